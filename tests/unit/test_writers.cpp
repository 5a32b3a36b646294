// Writers against a small known profile; their output is read back by callgrind_annotate and xmllint.
#include <gtest/gtest.h>

#include <fstream>

#include "callgrind_writer.h"
#include "event_log_writer.h"
#include "flamegraph_writer.h"
#include "folded_writer.h"
#include "frame_label.h"
#include "hot_functions.h"
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
    EXPECT_EQ(frame_label({"Server.handle", "app.py", 12}), "Server.handle (app.py:12)");
    EXPECT_EQ(frame_label({"[no Python frame]", "", 0}), "[no Python frame]");
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
