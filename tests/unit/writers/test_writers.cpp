// Writers against a small known profile; their output is read back by callgrind_annotate and xmllint.
#include <gtest/gtest.h>

#include <fstream>

#include "writers/callgrind_writer.h"
#include "writers/profile_outputs.h"
#include "writers/event_log_writer.h"
#include "writers/flamegraph_writer.h"
#include "writers/folded_writer.h"
#include "profile/frame_label.h"
#include "app/hot_functions.h"
#include "base/text_encoding.h"
#include "test_support.h"

using namespace pyat;
using namespace pyat::test;

namespace {

// main -> work (30 samples at line 5, via call at line 2) and main -> light (10), plus a
// recursive rec -> rec (4) and a name that needs escaping.
Profile known_profile(int processes = 1) {
    Profile p;
    p.run.hz = 99;
    p.run.duration_s = 1.5;
    p.run.target_summary = "PID 42 (python3 app.py)";
    for (int i = 0; i < processes; i++) {
        ProcessProfile pp;
        pp.pid = 42 + i;
        pp.program = "python3.11";
        pp.command_line = "python3 app.py";
        uint32_t main = pp.intern({"main", "/srv/app.py", 1});
        uint32_t work = pp.intern({"work", "/srv/app.py", 4});
        uint32_t light = pp.intern({"light", "/srv/app.py", 8});
        uint32_t rec = pp.intern({"rec", "/srv/app.py", 12});
        uint32_t odd = pp.intern({"<lambda>&\"x\"", "/usr/lib/python3.11/json/x.py", 3});
        pp.add({{main, 2}, {work, 5}}, 30);
        pp.add({{main, 3}, {light, 9}}, 10);
        pp.add({{main, 10}, {rec, 13}, {rec, 14}}, 4);
        pp.add({{main, 11}, {odd, 3}}, 1);
        p.processes.push_back(std::move(pp));
    }
    return p;
}

}  // namespace

TEST(FrameLabel, LibraryPathsAreShortened) {
    EXPECT_EQ(short_path("/usr/lib/python3/dist-packages/twisted/web/server.py"), "twisted/web/server.py");
    EXPECT_EQ(short_path("/usr/lib/python3.11/json/decoder.py"), "json/decoder.py");
    EXPECT_EQ(short_path("/srv/app.py"), "/srv/app.py");
    EXPECT_EQ(short_path("/venv/lib/python3.12/site-packages/lib/python3.9/x.py"), "x.py");  // the last root
    EXPECT_EQ(short_path("/site-packages/a.py"), "a.py");
    EXPECT_EQ(short_path("/usr/lib/python3.11/"), "/usr/lib/python3.11/");
    EXPECT_EQ(short_path("/usr/lib/python3/x.py"), "/usr/lib/python3/x.py");
    EXPECT_EQ(short_path("/usr/lib/python3.x/y.py"), "/usr/lib/python3.x/y.py");
    EXPECT_EQ(short_path("lib/python3.11/json/x.py"), "lib/python3.11/json/x.py");  // the regex wanted a '/' first
    // A huge name is no danger (std::regex overflowed the stack at about 100 KB).
    EXPECT_EQ(short_path(std::string(1 << 20, 'a') + "/site-packages/m.py"), "m.py");
    EXPECT_EQ(frame_label({"Server.handle", "app.py", 12}), "Server.handle (app.py:12)");
    EXPECT_EQ(frame_label({"[no Python frame]", "", 0}), "[no Python frame]");
}

// Every label comes from profile/frame_label: a frame at a given line, a process, a group.
TEST(FrameLabel, FramesProcessesAndGroupsAreNamedInOnePlace) {
    const Function f{"Server.handle", "/usr/lib/python3/dist-packages/twisted/web/server.py", 12};
    EXPECT_EQ(frame_label(f), "Server.handle (twisted/web/server.py:12)");
    EXPECT_EQ(frame_label(f, 40), "Server.handle (twisted/web/server.py:40)");
    EXPECT_EQ(frame_label({"[gc]", "", 0}, 7), "[gc]");
    EXPECT_EQ(code_label("[code object 0x10, freed]", "", 0), "[code object 0x10, freed] (:0)");  // the Deferred log's
    ProcessProfile p;
    p.pid = 4242;
    EXPECT_EQ(process_label(p), "process [4242]");
    p.program = "python3.11";
    EXPECT_EQ(process_label(p), "python3.11 [4242]");
    using Kind = SampleGroup::Kind;
    EXPECT_EQ(group_label({Kind::thread, 4243, "worker-1"}), "thread \"worker-1\" [4243]");
    EXPECT_EQ(group_label({Kind::thread, 4243, ""}), "thread [4243]");
    EXPECT_EQ(group_label({Kind::greenlet, 7, "handle_client"}), "greenlet 7 (handle_client)");
    EXPECT_EQ(group_label({Kind::greenlet, 7, ""}), "greenlet 7");
}

TEST(FoldedWriter, OneLinePerStackRootFirst) {
    std::ostringstream out;
    write_folded(known_profile(), out);
    EXPECT_EQ(out.str(),
              "main (/srv/app.py:1);<lambda>&\"x\" (json/x.py:3) 1\n"
              "main (/srv/app.py:1);light (/srv/app.py:8) 10\n"
              "main (/srv/app.py:1);rec (/srv/app.py:12);rec (/srv/app.py:12) 4\n"
              "main (/srv/app.py:1);work (/srv/app.py:4) 30\n");
}

TEST(FoldedWriter, SeveralProcessesGetRootFrames) {
    std::ostringstream out;
    write_folded(known_profile(2), out);
    EXPECT_NE(out.str().find("python3.11 [42];main (/srv/app.py:1);work (/srv/app.py:4) 30\n"), std::string::npos);
    EXPECT_NE(out.str().find("python3.11 [43];main (/srv/app.py:1);work (/srv/app.py:4) 30\n"), std::string::npos);
}

TEST(CallgrindWriter, CallgrindAnnotateReadsItWithTheRightCosts) {
    TempDir dir;
    Profile p = known_profile();
    {
        std::ofstream f(dir / "p.callgrind");
        write_callgrind(p.processes[0], p.run, f);
    }
    RunResult r = run({"callgrind_annotate", "--inclusive=yes", dir / "p.callgrind"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_NE(r.out.find("45 (100.0%)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("30 (66.67%)"), std::string::npos) << r.out;  // work
    EXPECT_NE(r.out.find("10 (22.22%)"), std::string::npos) << r.out;  // light
    std::string text = read_file(dir / "p.callgrind");
    EXPECT_NE(text.find("events: cpu_samples"), std::string::npos);
    EXPECT_NE(text.find("summary: 45"), std::string::npos);
    // The recursive edge rec -> rec is counted once per stack.
    auto self = callgrind_self_costs(dir / "p.callgrind");
    EXPECT_EQ((self[{"work", 5}]), 30u);
    EXPECT_EQ((self[{"rec", 14}]), 4u);
    RunResult plain = run({"callgrind_annotate", dir / "p.callgrind"});
    EXPECT_EQ(plain.exit_code, 0) << plain.err;
}

TEST(FlamegraphWriter, ValidSvgWithTooltipsTitleAndScript) {
    TempDir dir;
    {
        std::ofstream f(dir / "p.svg");
        write_flamegraph(known_profile(), f);
    }
    RunResult r = run({"xmllint", "--noout", dir / "p.svg"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string svg = read_file(dir / "p.svg");
    EXPECT_NE(svg.find("pyasynctrace: PID 42 (python3 app.py)"), std::string::npos);
    EXPECT_NE(svg.find("<title>work (/srv/app.py:4) — 30 samples, 66.67%</title>"), std::string::npos);
    EXPECT_NE(svg.find("&lt;lambda&gt;&amp;&quot;x&quot;"), std::string::npos);
    EXPECT_NE(svg.find("function search("), std::string::npos);
    EXPECT_NE(svg.find("cpu clock"), std::string::npos);
    // Same name, same colour, run after run.
    std::ostringstream again;
    write_flamegraph(known_profile(), again);
    EXPECT_EQ(again.str(), svg);
}

TEST(FlamegraphWriter, EmptyProfileIsStillValid) {
    TempDir dir;
    {
        std::ofstream f(dir / "e.svg");
        write_flamegraph(Profile{}, f);
    }
    EXPECT_EQ(run({"xmllint", "--noout", dir / "e.svg"}).exit_code, 0);
    EXPECT_NE(read_file(dir / "e.svg").find("no samples"), std::string::npos);
}

TEST(HotFunctions, RankedBySelfWithRecursionCountedOnce) {
    auto rows = hottest_functions(known_profile(), 10);
    ASSERT_GE(rows.size(), 3u);
    EXPECT_EQ(rows[0].label, "work (/srv/app.py:4)");
    EXPECT_NEAR(rows[0].self_pct, 66.67, 0.01);
    for (const auto& r : rows) EXPECT_LE(r.total_pct, 100.0) << r.label;
    for (const auto& r : rows) {
        if (r.label.rfind("rec ", 0) == 0) {
            EXPECT_EQ(r.total, 4u);
        }
    }
    EXPECT_NE(format_hot_table(rows).find("self%"), std::string::npos);
}

// The event log merges blocking slices and Deferred lifecycle entries in time order, one JSON
// object per line that Python's json module reads back, with the fields the README lists.
TEST(EventLogWriter, BlockingAndLifecycleEntriesInTimeOrderAsJson) {
    Profile p;
    p.run.monotonic_to_unix_ns = 1'700'000'000'000'000'000LL;
    p.run.block_threshold_ms = 100;
    BlockingSlice b;
    b.pid = 7;
    b.tid = 7;
    b.who = "reactor thread [7]";
    b.what = "without returning to the reactor";
    b.start_ns = 2'000;
    b.duration_ns = 300'000'000;
    b.samples = 3;
    b.stacks.push_back({{"<module> (app.py:1)", "stall (app.py:9)"}, 3});
    p.blocking.push_back(b);
    auto stack = std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"<module> (a \"b\".py:3)"});
    DeferredEvent created{"created", 7, 7, 1'000, 0, "0x10", {}, stack};
    DeferredEvent ran{"callback_ran", 7, 7, 3'000, 0, "0x10",
                      {{"callable", json_string("double (app.py:4)")}, {"duration_ms", "0.250"}}, stack};
    DeferredEvent pending{"pending", 7, 7, 4'000, 1'000, "0x20", {{"age_s", "0.000"}}, stack};
    p.deferred_events = {created, ran, pending};

    std::ostringstream out;
    write_event_log(p, out);
    TempDir dir;
    std::ofstream(dir / "log.jsonl") << out.str();
    RunResult r = run({"python3", "-c",
                       "import json, sys\n"
                       "for line in open(sys.argv[1]):\n"
                       "    e = json.loads(line)\n"
                       "    print(e['event'], e.get('what'), e.get('deferred', ''), e.get('callable', ''), "
                       "'created' in e, e.get('stack', [''])[0] if 'stack' in e else e['stacks'][0]['frames'][-1])\n",
                       dir / "log.jsonl"});
    ASSERT_EQ(r.exit_code, 0) << r.err << out.str();
    EXPECT_EQ(r.out,
              "deferred created 0x10  False <module> (a \"b\".py:3)\n"
              "blocking without returning to the reactor   False stall (app.py:9)\n"
              "deferred callback_ran 0x10 double (app.py:4) False <module> (a \"b\".py:3)\n"
              "deferred pending 0x20  True <module> (a \"b\".py:3)\n");
}

// callgrind_annotate strips the current directory from fl= names but not from cfl= ones: run
// from the source's directory, a redundant cfl= listed every called function twice.
TEST(CallgrindWriter, CallgrindAnnotateFromTheSourceDirectoryListsEachFunctionOnce) {
    TempDir dir;
    Profile p;
    ProcessProfile pp;
    pp.pid = 42;
    const std::string app = dir / "app.py", lib = dir / "lib.py";
    uint32_t main = pp.intern({"main", app, 1});
    uint32_t work = pp.intern({"work", app, 4});
    uint32_t helper = pp.intern({"helper", lib, 1});
    uint32_t inner = pp.intern({"inner", lib, 5});
    pp.add({{main, 2}, {work, 5}}, 30);
    pp.add({{main, 3}, {helper, 2}}, 10);
    pp.add({{main, 3}, {helper, 2}, {inner, 6}}, 5);
    p.processes.push_back(std::move(pp));
    {
        std::ofstream f(dir / "p.callgrind");
        write_callgrind(p.processes[0], p.run, f);
    }
    std::string text = read_file(dir / "p.callgrind");
    // main -> work and helper -> inner stay in their file: no cfl=; main -> helper changes file.
    size_t cfl = 0;
    for (size_t at = text.find("\ncfl="); at != std::string::npos; at = text.find("\ncfl=", at + 1)) cfl++;
    EXPECT_EQ(cfl, 1u) << text;
    RunResult r = run({"sh", "-c", "cd \"$1\" && callgrind_annotate --inclusive=yes p.callgrind", "sh", dir.path()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    // Each function called within its file is listed once, under its one name. (A call across
    // files still needs its cfl=, which callgrind_annotate 3.19 does not strip: helper shows twice.)
    std::istringstream lines(r.out);
    std::string line;
    std::map<std::string, int> listed;
    while (std::getline(lines, line)) {
        auto colon = line.rfind(':');
        if (line.find("%)") == std::string::npos || colon == std::string::npos) continue;
        listed[line.substr(colon + 1)]++;
    }
    EXPECT_EQ(listed["main"], 1) << r.out;
    EXPECT_EQ(listed["work"], 1) << r.out;
    EXPECT_EQ(listed["inner"], 1) << r.out;
    EXPECT_NE(r.out.find("30 (66.67%)  app.py:work"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" 5 (11.11%)  lib.py:inner"), std::string::npos) << r.out;
}

namespace {

// Names a target may hold: controls, markup, invalid UTF-8, an encoded lone surrogate (what
// read_unicode made of a surrogateescape file name before), 4-byte characters, huge names.
const std::vector<std::string> hostile_names = {
    std::string("nul\0inside", 10),
    "cr\rlf\nline",
    "tab\tesc\x1b[2J",
    "<script>&amp;\"'</script>",
    "latin1 caf\xe9",
    "surrogate \xed\xb3\xa9",
    "bytes \xff\xfe\x80",
    "emoji \xf0\x9f\x98\x80 and \xe6\x97\xa5",
    "semi;colon",
    "nonchar \xef\xbf\xbe",
    std::string(100000, 'x') + "\n",
};

Profile hostile_profile() {
    Profile p;
    p.run.hz = 99;
    p.run.block_threshold_ms = 1;
    p.run.target_summary = "PID 7 (python3 \x1b]0;title\x07 caf\xe9 <&>)";
    for (int process = 0; process < 2; process++) {
        ProcessProfile pp;
        pp.pid = 7 + process;
        pp.program = "py\nthon";
        pp.command_line = "python3 /tmp/caf\xe9/app.py\r\n--flag";
        pp.python_version = "3.11.2";
        uint32_t root = pp.intern({"<module>", "/tmp/caf\xe9/mod.py", 1});
        for (size_t i = 0; i < hostile_names.size(); i++) {
            uint32_t f = pp.intern({hostile_names[i], "/tmp/" + hostile_names[(i + 1) % hostile_names.size()] + ".py",
                                    uint32_t(i + 1)});
            pp.add({{root, 2}, {f, uint32_t(i + 3)}}, i + 1);
        }
        p.processes.push_back(std::move(pp));
    }
    BlockingSlice b;
    b.pid = 7;
    b.tid = 7;
    b.who = "greenlet 1 (" + hostile_names[1] + ")";
    b.duration_ns = 5'000'000;
    b.samples = 1;
    b.stacks.push_back({hostile_names, 1});
    p.blocking.push_back(b);
    auto stack = std::make_shared<const std::vector<std::string>>(hostile_names);
    p.deferred_events.push_back({"created", 7, 7, 1000, 0, "0x1", {{"callable", json_string(hostile_names[0])}}, stack});
    return p;
}

// Strict UTF-8, as Python decodes it.
void expect_utf8(const std::string& path) {
    RunResult r = run({"python3", "-c", "import sys; open(sys.argv[1], 'rb').read().decode('utf-8', 'strict')", path});
    EXPECT_EQ(r.exit_code, 0) << path << ": " << r.err;
}

}  // namespace

TEST(Writers, EveryOutputIsValidWhateverTheNames) {
    TempDir dir;
    Profile p = hostile_profile();
    auto write = [&](const std::string& name, auto writer) {
        std::ofstream f(dir / name, std::ios::binary);
        writer(f);
    };
    write("p.svg", [&](std::ostream& out) { write_flamegraph(p, out); });
    write("p.folded", [&](std::ostream& out) { write_folded(p, out); });
    write("p.callgrind", [&](std::ostream& out) { write_callgrind(p.processes[0], p.run, out); });
    write("p.jsonl", [&](std::ostream& out) { write_event_log(p, out); });

    // The SVG parses.
    RunResult xml = run({"xmllint", "--noout", dir / "p.svg"});
    EXPECT_EQ(xml.exit_code, 0) << xml.err.substr(0, 2000);
    EXPECT_EQ(xml.err, "");
    for (const char* file : {"p.svg", "p.folded", "p.callgrind", "p.jsonl"}) expect_utf8(dir / file);

    // Folded: one line per stack (2 processes x 11 stacks), "frames COUNT", the counts intact.
    auto folded = read_folded(dir / "p.folded");
    EXPECT_EQ(folded.size(), 2 * hostile_names.size());
    EXPECT_EQ(total(folded), 2 * 66u);
    for (const auto& [stack, count] : folded) EXPECT_EQ(split_frames(stack).size(), 3u) << stack.substr(0, 200);
    EXPECT_NE(read_file(dir / "p.folded").find("nul\\x00inside (/tmp/cr\\x0dlf\\x0aline.py:1)"), std::string::npos);
    EXPECT_NE(read_file(dir / "p.folded").find("<module> (/tmp/caf\\xe9/mod.py:1)"), std::string::npos);

    // Callgrind: callgrind_annotate reads every record (no "malformed" line) with the right total.
    RunResult cg = run({"callgrind_annotate", "--inclusive=yes", dir / "p.callgrind"});
    EXPECT_EQ(cg.exit_code, 0) << cg.err;
    EXPECT_EQ(cg.err, "");
    EXPECT_NE(cg.out.find("66 (100.0%)  PROGRAM TOTALS"), std::string::npos) << cg.out.substr(0, 3000);
    EXPECT_NE(read_file(dir / "p.callgrind").find("desc: Interpreter: CPython 3.11.2\n"), std::string::npos);

    // JSON lines: each loads, as many as there are events.
    RunResult json = run({"python3", "-c",
                          "import json, sys\n"
                          "lines = open(sys.argv[1], encoding='utf-8').read().split('\\n')\n"
                          "assert lines[-1] == '', 'no final newline'\n"
                          "events = [json.loads(l) for l in lines[:-1]]\n"
                          "print(len(events), events[1]['stack'][0][:10], events[0]['who'])\n",
                          dir / "p.jsonl"});
    EXPECT_EQ(json.exit_code, 0) << json.err;
    EXPECT_EQ(json.out, "2 nul\\x00ins greenlet 1 (cr\\x0dlf\\x0aline)\n");

    // The terminal: the hot table and the blocking report hold no control character but their
    // line ends, and names are cut to a readable length.
    for (const std::string& text :
         {format_hot_table(hottest_functions(p, 20)), format_blocking(p.blocking.front(), p.run)}) {
        for (char c : text) EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 || c == '\n') << int(c);
        std::istringstream lines(text);
        std::string line;
        while (std::getline(lines, line)) EXPECT_LT(line.size(), 1500u);
        EXPECT_EQ(printable_text(text), printable_text(text)) << "valid";
    }
    const std::string report = format_blocking(p.blocking.front(), p.run);
    EXPECT_EQ(std::count(report.begin(), report.end(), '\n'), 2) << "a heading and one stack";
}

// A PID that exec'd another Python program has a profile per program: each its own callgrind file.
TEST(CallgrindWriter, OneFilePerProfileEvenWhenAPidComesTwice) {
    Profile p = known_profile(3);
    p.processes[2].pid = 42;  // the same PID, a second program
    TempDir dir;
    auto written = write_outputs(p, {{dir / "all.callgrind", &output_format("callgrind")}});
    ASSERT_EQ(written.size(), 3u);
    EXPECT_EQ(written[0].path, dir / "all.callgrind.42");
    EXPECT_EQ(written[1].path, dir / "all.callgrind.43");
    EXPECT_EQ(written[2].path, dir / "all.callgrind.42-2");
    for (const auto& w : written) EXPECT_NE(read_file(w.path).find("fn="), std::string::npos) << w.path;
}
