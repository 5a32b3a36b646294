// Live: Twisted on Debian's python3.11 with python3-twisted (22.4): logical inlineCallbacks
// stacks, Deferred waits in --clock wall, and the reactor blocking report.
#include <gtest/gtest.h>

#include <regex>

#include "test_support.h"

using namespace pyat::test;

namespace {

using Names = std::vector<std::string>;

// Of the samples whose stack contains `marker`: how many have exactly the function names `want`.
struct Shape {
    uint64_t matching = 0, with_marker = 0;
};
Shape shape_of(const std::map<std::string, uint64_t>& folded, const std::string& marker, const Names& want) {
    Shape s;
    for (const auto& [stack, n] : folded) {
        auto names = function_names(stack);
        if (!has(names, marker)) continue;
        s.with_marker += n;
        if (names == want) s.matching += n;
    }
    return s;
}

std::string top_stacks(const std::map<std::string, uint64_t>& folded, size_t k = 8) {
    std::vector<std::pair<uint64_t, std::string>> v;
    for (const auto& [stack, n] : folded) {
        std::string names;
        for (const auto& f : function_names(stack)) names += (names.empty() ? "" : ";") + f;
        v.emplace_back(n, names);
    }
    std::sort(v.rbegin(), v.rend());
    std::string out;
    for (size_t i = 0; i < v.size() && i < k; i++) out += std::to_string(v[i].first) + " " + v[i].second + "\n";
    return out;
}

const Names twisted_trampolines = {"unwindGenerator", "_cancellableInlineCallbacks", "_inlineCallbacks",
                                   "_inlineCallbacks.<locals>.gotResult", "Deferred._runCallbacks"};

}  // namespace

// twisted_chains.py: main (run by task.react) -> outer -> middle -> leaf, all @inlineCallbacks, the
// work running after each generator was resumed by a fired Deferred. The logical stacks chain as
// the code was written (theseus' shape at the root), with no Twisted trampoline in them.
TEST(LiveTwisted, InlineCallbacksChainLogicallyInCpuView) {
    Workload target({debian_python, workload("twisted_chains.py"), "30"});
    TempDir dir;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "4", "--hz", "199", "-o", dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("Twisted found (probes/twisted/22.4.conf): logical"), std::string::npos) << r.err;
    auto folded = read_folded(dir / "p.folded");
    const std::string dump = top_stacks(folded);

    Shape leaf = shape_of(folded, "leaf_work", {"<module>", "react", "main", "outer", "middle", "leaf", "leaf_work", "spin"});
    Shape middle = shape_of(folded, "middle_work", {"<module>", "react", "main", "outer", "middle", "middle_work", "spin"});
    Shape main = shape_of(folded, "main_work", {"<module>", "react", "main", "main_work", "spin"});
    // 4 s x 199 Hz, split 4:2:1 by the workload's CPU seconds (0.12, 0.06, 0.03 per round).
    EXPECT_GT(leaf.with_marker, 250u) << dump;
    EXPECT_GT(middle.with_marker, 120u) << dump;
    EXPECT_GT(main.with_marker, 60u) << dump;
    // A sample can land in the few microseconds where a frame is half set up; nearly all are exact.
    EXPECT_GE(double(leaf.matching), 0.97 * double(leaf.with_marker)) << dump;
    EXPECT_GE(double(middle.matching), 0.97 * double(middle.with_marker)) << dump;
    EXPECT_GE(double(main.matching), 0.97 * double(main.with_marker)) << dump;
    // Trampolines are hidden; a sample caught mid-way through a frame's set-up may still show one.
    uint64_t with_trampoline = 0;
    std::string seen;
    for (const auto& [stack, n] : folded)
        for (const auto& hidden : twisted_trampolines)
            if (has(function_names(stack), hidden)) {
                with_trampoline += n;
                seen += stack + "\n";
                break;
            }
    // (4 of ~700, 0.57%, in a full suite run beside a build on the 2 cores; below 0.5% otherwise.)
    EXPECT_LE(double(with_trampoline), 0.01 * double(total(folded))) << seen;
}

TEST(LiveTwisted, RawStacksShowTheMachinery) {
    Workload target({debian_python, workload("twisted_chains.py"), "30"});
    TempDir dir;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "2", "--raw-stacks", "-o", dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("raw inlineCallbacks stacks"), std::string::npos) << r.err;
    auto folded = read_folded(dir / "p.folded");
    uint64_t leaf = 0, raw = 0;
    for (const auto& [stack, n] : folded) {
        auto names = function_names(stack);
        if (!has(names, "leaf_work")) continue;
        leaf += n;
        if (has(names, "_inlineCallbacks.<locals>.gotResult") && has(names, "_SignalReactorMixin.run") &&
            !has(names, "outer"))
            raw += n;
    }
    EXPECT_GT(leaf, 50u) << top_stacks(folded);
    EXPECT_GE(double(raw), 0.97 * double(leaf)) << top_stacks(folded);
}

// theseus' example: func waits 0.5 s on deferLater per round, run by task.react. In --clock wall
// the wait is charged to <module> -> react -> func, at the yield line, for as long as it lasts.
TEST(LiveTwisted, DeferLaterWaitIsChargedToTheWaitingStack) {
    Workload target({debian_python, workload("twisted_theseus.py"), "30"});
    TempDir dir;
    const double seconds = 4;
    const unsigned hz = 99;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "4", "--clock", "wall", "-o",
                       dir / "p.folded", "-o", dir / "p.callgrind"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("Deferred waits charged to the generators waiting"), std::string::npos) << r.err;
    auto folded = read_folded(dir / "p.folded");
    uint64_t waiting = 0, under_reactor = 0;
    for (const auto& [stack, n] : folded) {
        auto names = function_names(stack);
        if (names == Names{"<module>", "react", "func"}) waiting += n;
        if (has(names, "func") && has(names, "_SignalReactorMixin.run")) under_reactor += n;
    }
    const double expected = seconds * hz;
    EXPECT_NEAR(double(waiting), expected, 0.10 * expected) << top_stacks(folded);
    EXPECT_EQ(under_reactor, 0u) << top_stacks(folded);
    // ... at the yield line.
    std::regex yield_line("^ *yield task\\.deferLater");
    int line = 0;
    {
        std::istringstream src(read_file(workload("twisted_theseus.py")));
        std::string text;
        for (int n = 1; std::getline(src, text); n++)
            if (std::regex_search(text, yield_line)) line = n;
    }
    ASSERT_GT(line, 0);
    uint64_t at_yield = 0, in_func = 0;
    for (const auto& [key, cost] : callgrind_self_costs(dir / "p.callgrind")) {
        if (key.first.rfind("func", 0) != 0) continue;
        in_func += cost;
        if (key.second == line) at_yield += cost;
    }
    EXPECT_GE(double(at_yield), 0.97 * double(in_func)) << at_yield << " of " << in_func << " at line " << line;
}

// Nested waits: leaf's deferLater wait belongs to the whole logical chain, and a generator that
// waits for another generator is not charged again for the same time.
TEST(LiveTwisted, NestedWaitsChargeOnlyTheInnermostWaiter) {
    Workload target({debian_python, workload("twisted_chains.py"), "30"});
    TempDir dir;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "4", "--clock", "wall", "-o", dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto folded = read_folded(dir / "p.folded");
    uint64_t leaf_wait = 0, main_wait = 0, ancestors_waiting = 0, all = total(folded);
    for (const auto& [stack, n] : folded) {
        auto names = function_names(stack);
        if (names == Names{"<module>", "react", "main", "outer", "middle", "leaf"}) leaf_wait += n;
        if (names == Names{"<module>", "react", "main"}) main_wait += n;
        if (names == Names{"<module>", "react", "main", "outer"} ||
            names == Names{"<module>", "react", "main", "outer", "middle"})
            ancestors_waiting += n;
    }
    // Per round (about 0.23 s) leaf and main each wait 10 ms on deferLater: about 4% of the
    // process's wall samples each (the reactor's idle samples are the other thread-time).
    EXPECT_GT(leaf_wait, 0.015 * double(all)) << top_stacks(folded, 12);
    EXPECT_GT(main_wait, 0.015 * double(all)) << top_stacks(folded, 12);
    EXPECT_LE(ancestors_waiting, 0.01 * double(all)) << top_stacks(folded, 12);
}

// A callback that keeps the reactor for 300 ms is reported, with its logical stack, within 10%.
TEST(LiveTwisted, BlockingCallbackIsReported) {
    Workload target({debian_python, workload("twisted_blocking.py"), "30"});
    TempDir dir;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "4", "--block-threshold", "100", "-o",
                       dir / "events.jsonl"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("without returning to the reactor: reactor thread"), std::string::npos) << r.err;
    std::istringstream in(read_file(dir / "events.jsonl"));
    std::string line;
    int events = 0;
    std::regex duration("\"duration_ms\":([0-9.]+)");
    while (std::getline(in, line)) {
        events++;
        std::smatch m;
        ASSERT_TRUE(std::regex_search(line, m, duration)) << line;
        EXPECT_NEAR(std::stod(m[1]), 300.0, 30.0) << line;
        EXPECT_NE(line.find("\"what\":\"without returning to the reactor\""), std::string::npos) << line;
        EXPECT_NE(line.find("\"frames\":[\"<module>"), std::string::npos) << line;
        EXPECT_NE(line.find("stall_reactor (") , std::string::npos) << line;
        EXPECT_NE(line.find("spin_for ("), std::string::npos) << line;
    }
    // One stall per second (0.7 s apart, 0.3 s each): 3 or 4 in 4 s; nothing else is that long.
    EXPECT_GE(events, 3);
    EXPECT_LE(events, 4);
}

namespace {
// The log of twisted_lifecycle.py's chain as "what deferred details" lines, Deferreds named as the
// workload printed them ("ids d1=0x..."); the duration of slow()'s run in *slow_ms.
std::vector<std::string> lifecycle_entries(const std::string& log, const std::string& out, double* slow_ms) {
    std::map<std::string, std::string> names;
    std::regex id("(d[0-9])=(0x[0-9a-f]+)");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), id); it != std::sregex_iterator(); ++it)
        names[(*it)[2]] = (*it)[1];
    EXPECT_EQ(names.size(), 6u) << out;
    auto field = [](const std::string& line, const std::string& key) {
        std::smatch f;
        return std::regex_search(line, f, std::regex("\"" + key + "\":(\"([^\"]*)\"|[0-9.]+)"))
                   ? (f[2].matched ? f[2].str() : f[1].str())
                   : std::string();
    };
    auto callable = [](std::string label) { return label.substr(0, label.find(" (")); };
    std::vector<std::string> got;
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        EXPECT_EQ(field(line, "event"), "deferred") << line;
        std::string what = field(line, "what"), d = names[field(line, "deferred")];
        std::string entry = what + " " + d;
        if (what == "callbacks_added") entry += " " + callable(field(line, "callback")) + " " + callable(field(line, "errback"));
        if (what == "fired" || what == "failed") entry += " " + field(line, "result");
        if (what == "chained") entry += " " + names[field(line, "chained")] + " " + field(line, "by");
        if (what == "callback_ran") {
            entry += " " + callable(field(line, "callable")) + " " + field(line, "outcome");
            if (callable(field(line, "callable")) == "slow") *slow_ms = std::stod(field(line, "duration_ms"));
        }
        if (what == "created" || what == "pending") {
            EXPECT_NE(line.find("twisted_lifecycle.py:"), std::string::npos) << "no creation stack: " << line;
        }
        got.push_back(entry);
    }
    return got;
}

const std::vector<std::string> scripted_lifecycle = {
        "created d1",
        "callbacks_added d1 double _failthru",
        "created d2",
        "chained d1 d2 chainDeferred",
        "callbacks_added d1 Deferred.callback Deferred.errback",
        "callbacks_added d2 fail_on _failthru",
        "callbacks_added d2 passthru recover",
        "fired d1 int",
        "callback_ran d1 double returned",
        "fired d2 int",
        "callback_ran d2 fail_on raised",
        "callback_ran d2 recover returned",
        "callback_ran d1 Deferred.callback returned",
        "created d3",
        "created d4",
        "callbacks_added d4 returns_deferred _failthru",
        "callbacks_added d4 slow _failthru",
        "fired d4 int",
        "created d5",
        "callback_ran d4 returns_deferred returned",
        "chained d5 d4 callback result",
        "fired d5 int",
        "callback_ran d4 slow returned",
        "created d6",
        "callbacks_added d6 double recover",
        "failed d6 ValueError",
        "callback_ran d6 recover returned",
        "pending d3",
};
}  // namespace

// twisted_lifecycle.py: a scripted chain run once the tracer logs the lifecycle (SIGUSR1). Every
// event comes out, in the order the calls started, with callables named as written; the
// Deferred nobody fires is pending at the end.
TEST(LiveTwisted, DeferredLifecycleLogHasTheScriptedChainInOrder) {
    Workload target({debian_python, workload("twisted_lifecycle.py")});
    TempDir dir;
    Child tracer({binary, "-p", std::to_string(target.pid()), "--deferred-log", "-o", dir / "life.jsonl"});
    ASSERT_EQ(release_and_wait(target, tracer, "logging the Deferred lifecycle"), "");
    double slow_ms = 0;
    std::string log = read_file(dir / "life.jsonl");
    EXPECT_EQ(lifecycle_entries(log, target.out(), &slow_ms), scripted_lifecycle) << log;
    // slow() spins 50 ms (on the monotonic clock): its run is timed from the return before it.
    EXPECT_GE(slow_ms, 49.9);
    EXPECT_LT(slow_ms, 60.0);
}

// Launched under the tracer, the program runs its chain right after importing Twisted: it is
// stopped as the defer module's body returns and continued once its Deferreds are logged, so the
// log is as complete as when attaching to a waiting process.
TEST(LiveTwisted, DeferredLifecycleLogOfALaunchedProgramMissesNothing) {
    TempDir dir;
    RunResult r = run({binary, "--deferred-log", "-o", dir / "life.jsonl", "--", debian_python,
                       workload("twisted_lifecycle.py"), "now"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("watching for Twisted's import"), std::string::npos) << r.err;
    double slow_ms = 0;
    std::string log = read_file(dir / "life.jsonl");
    EXPECT_EQ(lifecycle_entries(log, r.out, &slow_ms), scripted_lifecycle) << log;
}

TEST(LiveTwisted, DeferredLogNeedsAnInterpreterWithTheReturnProbe) {
    TempDir dir;
    RunResult r = run({binary, "--deferred-log", "-o", dir / "life.jsonl", "--", "/root/.pyenv/versions/3.11.7/bin/python3.11",
                       "-c", "import sys; sys.path.append('/usr/lib/python3/dist-packages'); "
                             "from twisted.internet import defer; d = defer.Deferred()"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("has no USDT probes"), std::string::npos) << r.err;
}

// An event log asked for without a blocking report holds the Deferred lifecycle by default (it
// would hold nothing else), and says how to turn it off.
TEST(LiveTwisted, EventLogWithoutBlockingReportHoldsTheLifecycleByDefault) {
    Workload target({debian_python, workload("twisted_lifecycle.py")});
    TempDir dir;
    Child tracer({binary, "-p", std::to_string(target.pid()), "-o", dir / "life.jsonl"});
    ASSERT_EQ(release_and_wait(target, tracer, "logging the Deferred lifecycle"), "");
    EXPECT_NE(tracer.err().find("--no-deferred-log turns it off"), std::string::npos) << tracer.err();
    double slow_ms = 0;
    std::string log = read_file(dir / "life.jsonl");
    EXPECT_EQ(lifecycle_entries(log, target.out(), &slow_ms), scripted_lifecycle) << log;
}
