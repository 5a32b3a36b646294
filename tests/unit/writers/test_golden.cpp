// Golden files: every writer's output for small known profiles, compared byte for byte with the
// expected files under tests/unit/writers/golden/ (a change in output is a reviewable diff there).
// To regenerate them after an intended change: tools/regenerate_golden.sh (runs these tests with
// PYAT_UPDATE_GOLDEN=1, which writes the files instead of comparing), then review `git diff`.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/hot_functions.h"
#include "test_support.h"
#include "writers/callgrind_writer.h"
#include "writers/event_log_writer.h"
#include "writers/flamegraph_writer.h"
#include "writers/folded_writer.h"

using namespace pyat;
using namespace pyat::test;

namespace {

const std::filesystem::path golden_dir = std::filesystem::path(source_dir) / "tests/unit/writers/golden";

// Compares `actual` with the golden file `name`, or (PYAT_UPDATE_GOLDEN=1) writes it there.
void expect_golden(const std::string& name, const std::string& actual) {
    const auto path = golden_dir / name;
    const char* update = std::getenv("PYAT_UPDATE_GOLDEN");
    if (update && std::string(update) == "1") {
        std::ofstream(path, std::ios::binary) << actual;
        std::cout << "wrote " << path.string() << "\n";
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << "missing golden file " << path << " (see tools/regenerate_golden.sh)";
    std::ostringstream expected;
    expected << in.rdbuf();
    EXPECT_EQ(actual, expected.str()) << "output differs from " << path << " (see tools/regenerate_golden.sh)";
}

RunInfo sampled_run(Clock clock = Clock::cpu) {
    RunInfo run;
    run.clock = clock;
    run.hz = 99;
    run.duration_s = 2.5;
    run.start_unix_s = 1'764'633'600;  // 2025-12-02 00:00:00 UTC
    run.target_summary = "PID 42 (python3 app.py)";
    run.lost_samples = 3;
    return run;
}

// main -> work and main -> light, recursion rec -> rec, two lambdas of one file (callgrind tells
// them apart by their def line), a library file, a marker frame and a name that needs escaping.
ProcessProfile app_process(int pid) {
    ProcessProfile pp;
    pp.pid = pid;
    pp.program = "python3.11";
    pp.command_line = "python3 app.py --port 8080";
    pp.python_version = "3.11.2";
    uint32_t main = pp.intern({"main", "/srv/app.py", 1});
    uint32_t work = pp.intern({"work", "/srv/app.py", 4});
    uint32_t light = pp.intern({"light", "/srv/app.py", 8});
    uint32_t rec = pp.intern({"rec", "/srv/app.py", 12});
    uint32_t lambda1 = pp.intern({"<lambda>", "/srv/app.py", 20});
    uint32_t lambda2 = pp.intern({"<lambda>", "/srv/app.py", 21});
    uint32_t decode = pp.intern({"JSONDecoder.decode", "/usr/lib/python3.11/json/decoder.py", 332});
    uint32_t odd = pp.intern({"<odd>&\"x\";y", "/srv/we<ird>.py", 3});
    uint32_t truncated = pp.intern({"[truncated: deeper frames not recorded]", "", 0});
    pp.add({{main, 2}, {work, 5}}, 30);
    pp.add({{main, 3}, {light, 9}}, 10);
    pp.add({{main, 10}, {rec, 13}, {rec, 14}}, 4);
    pp.add({{main, 11}, {lambda1, 20}}, 2);
    pp.add({{main, 12}, {lambda2, 21}}, 3);
    pp.add({{main, 13}, {decode, 337}}, 5);
    pp.add({{main, 14}, {odd, 3}}, 1);
    pp.add({{truncated, 0}, {work, 6}}, 2);
    return pp;
}

// Stacks grouped by their thread or greenlet (--group-by), as the correlator leaves them: the
// writers show each group as a root frame.
ProcessProfile grouped_process(int pid) {
    ProcessProfile pp;
    pp.pid = pid;
    pp.program = "python3.11";
    pp.command_line = "python3 server.py";
    uint32_t module = pp.intern({"<module>", "/srv/server.py", 1});
    uint32_t serve = pp.intern({"serve", "/srv/server.py", 10});
    uint32_t handle = pp.intern({"handle", "/srv/server.py", 20});
    using Kind = SampleGroup::Kind;
    uint32_t main_thread = pp.add_group({Kind::thread, uint32_t(pid), "MainThread"});
    uint32_t worker = pp.add_group({Kind::thread, uint32_t(pid + 1), "worker-1"});
    uint32_t unnamed = pp.add_group({Kind::thread, uint32_t(pid + 2), ""});
    uint32_t greenlet1 = pp.add_group({Kind::greenlet, 1, "handle"});
    uint32_t greenlet2 = pp.add_group({Kind::greenlet, 2, ""});
    pp.add({{module, 3}, {serve, 12}}, 20, main_thread);
    pp.add({{handle, 22}}, 7, worker);
    pp.add({{handle, 23}}, 1, unnamed);
    pp.add({{handle, 22}}, 9, greenlet1);
    pp.add({{serve, 14}}, 4, greenlet2);
    return pp;
}

Profile profile_of(RunInfo run, std::vector<ProcessProfile> processes) {
    Profile p;
    p.run = std::move(run);
    p.processes = std::move(processes);
    return p;
}

std::string folded(const Profile& p) {
    std::ostringstream out;
    write_folded(p, out);
    return out.str();
}

std::string svg(const Profile& p) {
    std::ostringstream out;
    write_flamegraph(p, out);
    return out.str();
}

std::string callgrind(const Profile& p, size_t process = 0) {
    std::ostringstream out;
    write_callgrind(p.processes.at(process), p.run, out);
    return out.str();
}

}  // namespace

TEST(GoldenFiles, OneProcessCpu) {
    Profile p = profile_of(sampled_run(), {app_process(42)});
    expect_golden("one_process.folded", folded(p));
    expect_golden("one_process.svg", svg(p));
    expect_golden("one_process.callgrind", callgrind(p));
    expect_golden("one_process.hot.txt", format_hot_table(hottest_functions(p, 10)));
}

TEST(GoldenFiles, TwoProcessesWallUnderProcessRoots) {
    Profile p = profile_of(sampled_run(Clock::wall), {app_process(42), grouped_process(77)});
    p.run.target_summary = "all CPython processes";
    expect_golden("two_processes.folded", folded(p));
    expect_golden("two_processes.svg", svg(p));
    expect_golden("two_processes.77.callgrind", callgrind(p, 1));
}

TEST(GoldenFiles, GroupedByThreadAndGreenlet) {
    RunInfo run = sampled_run(Clock::wall);
    run.group_by = GroupBy::greenlet;
    Profile p = profile_of(run, {grouped_process(77)});
    expect_golden("grouped.folded", folded(p));
    expect_golden("grouped.svg", svg(p));
    expect_golden("grouped.callgrind", callgrind(p));
    expect_golden("grouped.hot.txt", format_hot_table(hottest_functions(p, 20)));
}

TEST(GoldenFiles, TraceModeWithExactCallCounts) {
    RunInfo run = sampled_run();
    run.traced = true;
    run.estimated_times = true;
    ProcessProfile pp;
    pp.pid = 42;
    pp.program = "python3.11";
    pp.command_line = "python3 app.py";
    uint32_t main = pp.intern({"main", "/srv/app.py", 1});
    uint32_t work = pp.intern({"work", "/srv/app.py", 4});
    uint32_t gc = pp.intern({"[gc]", "", 0});
    pp.add({{main, 1}}, 1'000);
    pp.add({{main, 1}, {work, 4}}, 25'000);
    pp.add({{main, 1}, {gc, 0}}, 500);
    pp.call_counts[{main, 1, work}] = 5;
    pp.call_counts[{main, 1, gc}] = 1;
    Profile p = profile_of(run, {pp});
    expect_golden("trace.callgrind", callgrind(p));
    expect_golden("trace.folded", folded(p));
    expect_golden("trace.svg", svg(p));
}

TEST(GoldenFiles, EmptyProfile) {
    Profile p = profile_of(sampled_run(), {});
    expect_golden("empty.svg", svg(p));
    expect_golden("empty.folded", folded(p));
}

TEST(GoldenFiles, EventLogAndBlockingReport) {
    RunInfo run = sampled_run(Clock::wall);
    run.block_threshold_ms = 100;
    run.monotonic_to_unix_ns = 1'764'633'600'000'000'000LL;
    Profile p = profile_of(run, {});
    BlockingSlice greenlet;
    greenlet.pid = 42;
    greenlet.tid = 42;
    greenlet.who = "greenlet 3 (busy_loop)";
    greenlet.start_ns = 5'000'000;
    greenlet.duration_ns = 250'500'000;
    greenlet.samples = 25;
    greenlet.stacks = {{{"<module> (app.py:1)", "busy_loop (app.py:9)", "spin (app.py:14)"}, 20},
                       {{"<module> (app.py:1)", "busy_loop (app.py:10)"}, 5}};
    BlockingSlice reactor;
    reactor.pid = 42;
    reactor.tid = 43;
    reactor.who = "reactor thread [43]";
    reactor.what = "without returning to the reactor";
    reactor.start_ns = 900'000'000;
    reactor.duration_ns = 120'000'000;
    reactor.ongoing = true;
    reactor.samples = 12;
    reactor.stacks = {{{"a (a.py:1)", "b (a.py:2)", "c (a.py:3)", "d (a.py:4)", "e (a.py:5)", "f (a.py:6)",
                        "g \"quoted\"\t(a.py:7)"},
                       12}};
    p.blocking = {greenlet, reactor};
    auto stack = std::make_shared<const std::vector<std::string>>(
        std::vector<std::string>{"<module> (app.py:1)", "fetch (app.py:30)"});
    p.deferred_events = {
        {"created", 42, 42, 1'000'000, 0, "0x7f00", {}, stack},
        {"callback_ran", 42, 42, 6'000'000, 0, "0x7f00",
         {{"callable", json_string("parse (app.py:40)")}, {"duration_ms", "0.250"}, {"result", "\"value\""}}, stack},
        {"pending", 42, 42, 1'100'000'000, 1'000'000, "0x7f10", {{"age_s", "1.099"}}, nullptr},
    };
    std::ostringstream log;
    write_event_log(p, log);
    expect_golden("events.jsonl", log.str());
    expect_golden("blocking.txt", format_blocking(greenlet, run) + format_blocking(reactor, run));
}

// The golden files themselves are what their readers accept: xmllint for the flame graphs,
// callgrind_annotate for the callgrind profiles, Python's json for every event-log line.
TEST(GoldenFiles, AreReadByTheirTools) {
    size_t checked = 0;
    for (const auto& entry : std::filesystem::directory_iterator(golden_dir)) {
        const std::string path = entry.path().string(), ext = entry.path().extension().string();
        RunResult r{};
        if (ext == ".svg")
            r = run({"xmllint", "--noout", path});
        else if (ext == ".callgrind")
            r = run({"callgrind_annotate", path});
        else if (ext == ".jsonl")
            r = run({"python3", "-c", "import json, sys\nfor line in open(sys.argv[1]): json.loads(line)\n", path});
        else
            continue;
        EXPECT_EQ(r.exit_code, 0) << path << ": " << r.err;
        checked++;
    }
    EXPECT_EQ(checked, 10u);  // 5 flame graphs, 4 callgrind profiles, 1 event log
}
