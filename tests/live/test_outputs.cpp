// Live: what the tracer writes and prints, run as a user would. Hostile outputs (a FIFO, a planted
// link, two names for one file) are refused before anything runs; an empty run writes nothing;
// -q prints nothing; a target's odd names still give valid files; the blocking report stays short.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <regex>

#include "test_support.h"

using namespace pyat::test;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

size_t count_of(const std::string& text, const std::string& part) {
    size_t n = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) n++;
    return n;
}

std::vector<std::string> entries(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
}

// An error before anything ran: exit 1, one line, the command never started (it would have made
// `marker`), nothing attached, no hang.
void expect_refused(const RunResult& r, bool timed_out, const std::string& text, const std::string& marker) {
    EXPECT_FALSE(timed_out) << "the tracer hung";
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(contains(r.err, "pyasynctrace: error: cannot write ")) << r.err;
    EXPECT_TRUE(contains(r.err, text)) << r.err;
    EXPECT_FALSE(fs::exists(marker)) << "the command ran";
}

RunResult run_with_timeout(const std::vector<std::string>& argv, double timeout_s, bool& timed_out) {
    Child c(argv);
    int code = c.wait(timeout_s);
    timed_out = c.timed_out();
    return {code, c.out(), c.err(), 0};
}

// A command run with stdout and stderr on a pseudo-terminal (as a user at a terminal sees it).
RunResult run_on_terminal(const std::vector<std::string>& argv, double timeout_s) {
    int master = -1;
    pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
    if (pid < 0) throw std::runtime_error("forkpty failed");
    if (pid == 0) {
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
        pollfd p{master, POLLIN, 0};
        if (std::chrono::steady_clock::now() > deadline) kill(pid, SIGKILL);
        if (poll(&p, 1, 100) <= 0) continue;
        char buf[65536];
        ssize_t n = read(master, buf, sizeof(buf));
        if (n <= 0) break;  // EIO: every holder of the terminal's other side has gone
        out.append(buf, size_t(n));
    }
    close(master);
    int status = 0;
    waitpid(pid, &status, 0);
    out.erase(std::remove(out.begin(), out.end(), '\r'), out.end());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out, out, 0};
}

const std::string idle_python_script = "import time; print('ready', flush=True); time.sleep(60)";

}  // namespace

// -o naming a FIFO used to pass the start-up check, and the tracer then hung in open() after the
// run with its BPF programs loaded. A link another user planted in /tmp was followed as root.
TEST(LiveOutputs, HostileOutputPathsAreRefusedBeforeAnythingRuns) {
    TempDir dir;
    const std::string marker = dir / "command-ran";
    const std::vector<std::string> command = {"--", debian_python, "-c", "open('" + marker + "', 'w')"};
    auto tracer = [&](std::vector<std::string> args) {
        args.insert(args.begin(), binary);
        args.insert(args.end(), command.begin(), command.end());
        return args;
    };
    bool timed_out = false;

    ASSERT_EQ(mkfifo((dir / "fifo.svg").c_str(), 0666), 0);
    RunResult fifo = run_with_timeout(tracer({"-d", "2", "-o", dir / "fifo.svg"}), 30, timed_out);
    expect_refused(fifo, timed_out, dir / "fifo.svg: it is a FIFO: outputs are only written to regular files", marker);

    // /tmp-like: sticky and world-writable; the link belongs to another user (nobody).
    fs::create_directory(dir / "tmp");
    ASSERT_EQ(chmod((dir / "tmp").c_str(), 01777), 0);
    std::ofstream(dir / "victim") << "precious\n";
    fs::create_symlink(dir / "victim", dir / "tmp/evil.svg");
    ASSERT_EQ(lchown((dir / "tmp/evil.svg").c_str(), 65534, 65534), 0);
    RunResult planted = run_with_timeout(tracer({"-d", "2", "-o", dir / "tmp/evil.svg"}), 30, timed_out);
    expect_refused(planted, timed_out, "is a symbolic link owned by UID 65534 in the sticky world-writable directory",
                   marker);
    EXPECT_EQ(read_file(dir / "victim"), "precious\n");

    // -o a.svg -o link.folded with link.folded -> a.svg: a.svg used to end up holding folded text.
    fs::create_symlink("a.svg", dir / "link.folded");
    RunResult same = run_with_timeout(tracer({"-d", "2", "-o", dir / "a.svg", "-o", dir / "link.folded"}), 30,
                                      timed_out);
    EXPECT_FALSE(timed_out);
    EXPECT_EQ(same.exit_code, 1) << same.err;
    EXPECT_EQ(same.err, "pyasynctrace: error: -o " + (dir / "a.svg") + " and -o " + (dir / "link.folded") +
                            " are the same file (" + (dir / "a.svg") + "): give each output its own file\n");
    EXPECT_FALSE(fs::exists(marker));
    EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"fifo.svg", "link.folded", "tmp", "victim"}));
}

// An empty run (a command that is not Python, a process that sleeps) writes no empty files.
TEST(LiveOutputs, EmptyRunWritesNothingAndSaysSo) {
    TempDir dir;
    // Default outputs would go to the current directory: launched, the command's exit code stays.
    RunResult launched = run({"sh", "-c", "cd \"$1\" && exec \"$2\" -- sh -c 'sleep 0.3; exit 3'", "sh",
                              dir.path().string(), binary});
    EXPECT_EQ(launched.exit_code, 3) << launched.err;
    EXPECT_TRUE(contains(launched.err, "pyasynctrace: nothing was sampled: no file written\n")) << launched.err;
    EXPECT_FALSE(contains(launched.err, "wrote")) << launched.err;
    EXPECT_TRUE(fs::is_empty(dir.path())) << entries(dir.path()).front();

    // Attached to a process that sleeps throughout (cpu clock: no sample), and traced (no call):
    // nothing written, exit code 1.
    Workload idle({debian_python, "-c", idle_python_script});
    RunResult sampled = run({binary, "-p", std::to_string(idle.pid()), "-d", "1", "-o", dir / "x.svg", "-o",
                             dir / "x.callgrind"});
    EXPECT_EQ(sampled.exit_code, 1) << sampled.err;
    EXPECT_TRUE(contains(sampled.err, "pyasynctrace: nothing was sampled: no file written\n")) << sampled.err;
    RunResult traced = run({binary, "--mode", "trace", "-p", std::to_string(idle.pid()), "-d", "1", "-o",
                            dir / "t.callgrind"});
    EXPECT_EQ(traced.exit_code, 1) << traced.err;
    EXPECT_TRUE(contains(traced.err, "pyasynctrace: no call was traced: no file written\n")) << traced.err;
    EXPECT_TRUE(fs::is_empty(dir.path())) << entries(dir.path()).front();
}

// -q: errors only, in both modes; the files are written all the same.
TEST(LiveOutputs, QuietPrintsNothingButErrors) {
    TempDir dir;
    Workload busy({debian_python, workload("cost_split.py")});
    RunResult sampled = run({binary, "-q", "-p", std::to_string(busy.pid()), "-d", "2", "-o", dir / "p.svg", "-o",
                             dir / "p.folded"});
    EXPECT_EQ(sampled.exit_code, 0) << sampled.err;
    EXPECT_EQ(sampled.err, "");
    EXPECT_GT(total(read_folded(dir / "p.folded")), 20u) << "~200 on an idle host; ~60 seen with 7 runnable tasks on 2 CPUs";
    RunResult traced = run({binary, "-q", "--mode", "trace", "-p", std::to_string(busy.pid()), "-d", "1", "-o",
                            dir / "t.callgrind"});
    EXPECT_EQ(traced.exit_code, 0) << traced.err;
    EXPECT_EQ(traced.err, "");
    EXPECT_TRUE(contains(read_file(dir / "t.callgrind"), "fn=")) << "calls were traced";
}

// A module in a directory whose name holds a Latin-1 byte (Python holds the path as the lone
// surrogate U+DCE9), with non-ASCII function names: every output is valid and names it "caf\xe9".
TEST(LiveOutputs, EveryOutputIsValidWithALatin1PathAndUnicodeNames) {
    TempDir dir;
    const std::string latin1_dir = dir / "caf\xe9";
    fs::create_directory(latin1_dir);
    const std::string script = latin1_dir + "/mod.py";
    std::ofstream(script) << "import time\n"
                             "import gevent\n"
                             "\n"
                             "def caf\xc3\xa9_spin(seconds):\n"                 // café_spin: a Latin-1 str
                             "    end = time.monotonic() + seconds\n"
                             "    while time.monotonic() < end:\n"
                             "        pass\n"
                             "\n"
                             "def \xe6\x97\xa5\xe6\x9c\xac():\n"               // 日本: a UCS-2 str
                             "    caf\xc3\xa9_spin(0.25)\n"
                             "\n"
                             "deadline = time.monotonic() + 3\n"
                             "while time.monotonic() < deadline:\n"
                             "    gevent.spawn(\xe6\x97\xa5\xe6\x9c\xac).join()\n"
                             "    gevent.sleep(0.05)\n";
    RunResult r = run({binary, "--block-threshold", "100", "-o", dir / "p.svg", "-o", dir / "p.folded", "-o",
                       dir / "p.callgrind", "-o", dir / "p.jsonl", "--", debian_python, script});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    RunResult xml = run({"xmllint", "--noout", dir / "p.svg"});
    EXPECT_EQ(xml.exit_code, 0) << xml.err.substr(0, 2000);
    EXPECT_EQ(xml.err, "");
    RunResult decoded = run({"python3", "-c",
                             "import json, sys\n"
                             "for name in sys.argv[1:4]:\n"
                             "    open(name, 'rb').read().decode('utf-8', 'strict')\n"
                             "events = [json.loads(l) for l in open(sys.argv[4], encoding='utf-8')]\n"
                             "frames = [f for e in events if e['event'] == 'blocking' for s in e['stacks'] "
                             "for f in s['frames']]\n"
                             "print(len(events), sum('caf\\\\xe9/mod.py' in f for f in frames) > 0)\n",
                             dir / "p.folded", dir / "p.callgrind", dir / "p.svg", dir / "p.jsonl"});
    EXPECT_EQ(decoded.exit_code, 0) << decoded.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_match(decoded.out, m, std::regex(R"((\d+) True\n)"))) << decoded.out;
    EXPECT_GE(std::stoi(m[1]), 3) << "blocking slices of 250 ms, most of 8 to 11 after greenlet is hooked";

    auto folded = read_folded(dir / "p.folded");
    const std::string spin_frame = "caf\xc3\xa9_spin (" + (dir / "caf\\xe9") + "/mod.py:4)";
    // ~250 samples on an idle host, ~70 when the host's two CPUs are shared with 7 other tasks.
    EXPECT_GT(inclusive(folded, "caf\xc3\xa9_spin"), 20u);
    bool seen = false;
    for (const auto& [stack, count] : folded)
        for (const auto& frame : split_frames(stack)) seen = seen || frame == spin_frame;
    EXPECT_TRUE(seen) << read_file(dir / "p.folded").substr(0, 2000);
    EXPECT_GT(inclusive(folded, "\xe6\x97\xa5\xe6\x9c\xac"), 20u);
    RunResult annotate = run({"callgrind_annotate", "--inclusive=yes", dir / "p.callgrind"});
    EXPECT_EQ(annotate.exit_code, 0) << annotate.err;
    // Every record read. (Its perl warns of "uninitialized" values when it annotates a real source
    // file, such as gevent's, whose only costs are at line 0, unknown: not a format problem.)
    EXPECT_FALSE(contains(annotate.err, "malformed")) << annotate.err;
    EXPECT_TRUE(contains(annotate.out, "\\xe9/mod.py:caf\xc3\xa9_spin")) << annotate.out;
}

// At --block-threshold 1 a Twisted reactor blocks ~100 times a second: the terminal shows the
// first few as they happen, then one line, and at the end the longest 10 with the total; every
// slice is in the event log.
TEST(LiveOutputs, BlockingReportStaysShortOnTheTerminal) {
    TempDir dir;
    Workload target({debian_python, workload("twisted_blocking.py"), "30"});
    RunResult r = run_on_terminal({binary, "-p", std::to_string(target.pid()), "-d", "4", "--block-threshold", "1",
                                   "-o", dir / "p.jsonl", "-o", dir / "p.folded"},
                                  60);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const std::string& text = r.out;
    size_t logged = count_of(read_file(dir / "p.jsonl"), "\"event\":\"blocking\"");
    EXPECT_GT(logged, 30u) << "the workload blocks the reactor ~100 times a second for 1-300 ms";

    EXPECT_EQ(count_of(text, "pyasynctrace: blocked for longer than 1 ms:\n"), 5u) << text;
    EXPECT_EQ(count_of(text, "pyasynctrace: more slices longer than 1 ms: not shown as they happen; the longest 10 "
                             "are listed at the end, every one in " + (dir / "p.jsonl") + "\n"),
              1u)
        << text;
    const std::string heading = "\nBlocking: " + std::to_string(logged) +
                                " slices longer than 1 ms without a return to the reactor; the 10 longest:\n";
    size_t end = text.find(heading);
    ASSERT_NE(end, std::string::npos) << heading << "\n" << text;
    std::string report = text.substr(end);
    std::regex slice(R"(\n  (\d+\.\d) ms)");
    std::vector<double> durations;
    for (auto it = std::sregex_iterator(report.begin(), report.end(), slice); it != std::sregex_iterator(); ++it)
        durations.push_back(std::stod((*it)[1]));
    ASSERT_EQ(durations.size(), 10u) << report;
    EXPECT_TRUE(std::is_sorted(durations.rbegin(), durations.rend())) << report;
    EXPECT_GT(durations.front(), 250.0) << "the 300 ms stalls come first";
    EXPECT_TRUE(contains(report, "  ... and " + std::to_string(logged - 10) + " shorter, every one in " +
                                     (dir / "p.jsonl") + "\n"))
        << report;
}
