// Live: asyncio (issue 14) on every CPython here (Debian's python3.11, pyenv 3.8-3.13): logical
// task stacks, wall time at each await, --group-by task, event-loop blocking, 10,000 tasks; each
// against a workload of tests/workloads/asyncio_*.py with a known answer.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "live/asyncio/asyncio_support.h"
#include "live/interpreters.h"
#include "test_support.h"

using namespace pyat::test;
using namespace pyat::test::asyncio;

namespace {

class AsyncioOnEachCPython : public OnEachInterpreter {};

// What the tool said, for every failure message.
std::string said(const RunResult& r) { return "tracer stderr:\n" + r.err; }

// Of the samples whose stack has `marker`: how many also satisfy `good`, and examples of the rest.
struct Share {
    uint64_t good = 0, all = 0;
    std::string bad_examples;
};
template <class Good>
Share share_of(const std::map<std::string, uint64_t>& folded, const std::string& marker, Good good) {
    Share s;
    std::set<std::string> bad;
    for (const auto& [stack, n] : folded) {
        auto names = function_names(stack);
        if (!has(names, marker)) continue;
        s.all += n;
        if (good(names))
            s.good += n;
        else if (bad.size() < 5)
            bad.insert(joined(names));
    }
    for (const auto& b : bad) s.bad_examples += "  " + b + "\n";
    return s;
}

// Samples in stacks that hold any plumbing name, with examples.
Share with_plumbing(const std::map<std::string, uint64_t>& folded, const Names& plumbing) {
    Share s;
    std::set<std::string> seen;
    for (const auto& [stack, n] : folded) {
        auto names = function_names(stack);
        s.all += n;
        if (plumbing_in(names, plumbing).empty()) continue;
        s.good += n;
        if (seen.size() < 5) seen.insert(joined(names));
    }
    for (const auto& b : seen) s.bad_examples += "  " + b + "\n";
    return s;
}

// asyncio_sleep_sites.py: the weight on ...;sleeper_loop;site_X;sleep for site_a, site_b, site_c.
struct SleepSites {
    double a = 0, b = 0, c = 0;
};
SleepSites wall_at_sleep_sites(const std::map<std::string, uint64_t>& folded) {
    SleepSites at;
    for (const auto& [stack, n] : folded) {
        auto names = function_names(stack);
        if (consecutive(names, {"sleeper_loop", "site_a", "sleep"}) >= 0) at.a += double(n);
        if (consecutive(names, {"sleeper_loop", "site_b", "sleep"}) >= 0) at.b += double(n);
        if (consecutive(names, {"sleeper_loop", "site_c", "sleep"}) >= 0) at.c += double(n);
    }
    return at;
}

}  // namespace

// (a) One task looping `await site_a(); await site_b(); await site_c()`, sleeping 0.1/0.2/0.3 s.
// In --clock wall the suspended task is charged at the await where it waits, on its logical
// stack: ...;sleeper_loop;site_X;sleep carry 1:2:3 (within 10%), and together the whole run.
TEST_P(AsyncioOnEachCPython, WallAtEachSleepSiteIsOneTwoThree) {
    Workload target({GetParam().path, workload("asyncio_sleep_sites.py"), "30"});
    TempDir dir;
    const double seconds = 6;
    const unsigned hz = 199;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "6", "--hz", "199", "--clock", "wall",
                       "-o", dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << said(r);
    auto folded = read_folded(dir / "p.folded");
    const std::string dump = top_stacks(folded);
    const auto [a, b, c] = wall_at_sleep_sites(folded);
    ASSERT_GT(a, 0.0) << "no wall time on ...;sleeper_loop;site_a;sleep (asyncio.sleep in tasks.py): the "
                         "suspended task must be charged at its await\n"
                      << dump << said(r);
    EXPECT_NEAR(b / a, 2.0, 0.2) << "site_b/site_a wall (sleeps 0.2 s vs 0.1 s): " << b << " / " << a << "\n" << dump;
    EXPECT_NEAR(c / a, 3.0, 0.3) << "site_c/site_a wall (sleeps 0.3 s vs 0.1 s): " << c << " / " << a << "\n" << dump;
    // The task is always at one of the three awaits (its CPU between them is microseconds).
    EXPECT_NEAR(a + b + c, seconds * hz, 0.10 * seconds * hz)
        << "the three sites together should weigh the run (" << seconds << " s x " << hz << " Hz)\n"
        << dump;
    Share plumbing = with_plumbing(folded, loop_plumbing(GetParam()));
    EXPECT_EQ(plumbing.good, 0u) << "loop plumbing in the logical view:\n" << plumbing.bad_examples << dump;
}

// (a') The same with --asyncio-steps: each wait ends at the step that resumed its task (hooked at
// task_step_impl, or on Debian's stripped module at the step wrapper's call and the wakeup), so
// the sites weigh 1:2:3 within 5%, and the hook saw the steps (a sleep's wakeup each: 5 a second).
// 12 s (20 rounds of the three sleeps): the run's two ends cut a wait anywhere, which moves up to
// a whole sleep from one site's share to another's; over 6 s, CI saw b/a at 2.106 (419 / 199: a
// tenth of a second more at site_b, the run 6.11 s long).
TEST_P(AsyncioOnEachCPython, WallAtEachSleepSiteWithStepsEndsAtEachStep) {
    Workload target({GetParam().path, workload("asyncio_sleep_sites.py"), "30"});
    TempDir dir;
    const double seconds = 12;
    const unsigned hz = 199;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "12", "--hz", "199", "--clock", "wall",
                       "--asyncio-steps", "-o", dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << said(r);
    ASSERT_NE(r.err.find("timing asyncio task steps"), std::string::npos) << said(r);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"((\d+) task steps hooked)"))) << said(r);
    EXPECT_GE(std::stoull(m[1]), uint64_t(0.8 * seconds * 3 / 0.6)) << said(r);
    auto folded = read_folded(dir / "p.folded");
    const std::string dump = top_stacks(folded);
    const auto [a, b, c] = wall_at_sleep_sites(folded);
    ASSERT_GT(a, 0.0) << dump << said(r);
    EXPECT_NEAR(b / a, 2.0, 0.1) << "site_b/site_a wall: " << b << " / " << a << "\n" << dump;
    EXPECT_NEAR(c / a, 3.0, 0.15) << "site_c/site_a wall: " << c << " / " << a << "\n" << dump;
    EXPECT_NEAR(a + b + c, seconds * hz, 0.05 * seconds * hz) << dump;
}

// (b) gather and TaskGroup children: their CPU samples sit under their parent task, split as the
// workload built them (heavy:light = 6:2 slices of 5 ms of thread time = 3:1), with no loop
// plumbing in any stack.
TEST_P(AsyncioOnEachCPython, GatherAndTaskGroupChildrenSitUnderTheirParent) {
    const bool taskgroup = minor_of(GetParam()) >= 11;
    Workload target({GetParam().path, workload("asyncio_gather_split.py"), "30"});
    if (!taskgroup) {
        ASSERT_NE(target.out().find("taskgroup skipped"), std::string::npos)
            << "the workload must say it skips TaskGroup below 3.11: " << target.out();
    }
    TempDir dir;
    // 997 Hz (off the 5 ms slices' beat): ~450 samples for a light child, enough for a 10% ratio.
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "6", "--hz", "997", "-o", dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << said(r);
    auto folded = read_folded(dir / "p.folded");
    const std::string dump = top_stacks(folded);

    // main() awaits a gather of the parents: the whole chain, main;parent;child.
    auto under = [](const std::string& parent, const std::string& child) {
        return [parent, child](const Names& names) {
            long m = index_of(names, "main"), p = index_of(names, parent), c = index_of(names, child);
            return m >= 0 && p > m && c > p;  // in burn_cpu or in the child's own frames
        };
    };
    struct Family {
        const char *parent, *heavy, *light;
    };
    std::vector<Family> families = {{"gather_parent", "gather_heavy_child", "gather_light_child"}};
    if (taskgroup) families.push_back({"taskgroup_parent", "tg_heavy_child", "tg_light_child"});
    for (const auto& f : families) {
        Share heavy = share_of(folded, f.heavy, under(f.parent, f.heavy));
        Share light = share_of(folded, f.light, under(f.parent, f.light));
        // 6 s x 997 Hz of CPU shared by 2 (or 4) children 3:1: measured 440-1000 for a light child.
        ASSERT_GT(light.all, 250u) << f.light << " must be sampled\n" << dump << said(r);
        // A sample read after its short-lived task has gone (the tracer held up) may miss the parent.
        EXPECT_GE(double(heavy.good), 0.97 * double(heavy.all))
            << f.heavy << " samples under " << f.parent << ": " << heavy.good << " of " << heavy.all
            << "; others:\n" << heavy.bad_examples << dump;
        EXPECT_GE(double(light.good), 0.97 * double(light.all))
            << f.light << " samples under " << f.parent << ": " << light.good << " of " << light.all
            << "; others:\n" << light.bad_examples << dump;
        // Split 3:1 by thread time (the workload's own count: 0.570 / 0.190 s per 1.5 s); the
        // sampled ratio measured 2.93-3.05 in 9 runs at 997 Hz (2.7-3.7 at 199 Hz): within 10%.
        const double ratio = double(heavy.all) / double(light.all);
        EXPECT_NEAR(ratio, 3.0, 0.3) << f.heavy << " / " << f.light << " = " << heavy.all << " / " << light.all
                                      << "\n" << dump;
    }
    // Same code in different tasks merges: no stack is rooted at a task without --group-by task.
    for (const auto& [stack, n] : folded)
        EXPECT_NE(stack.rfind("task \"", 0), 0u) << "--group-by code roots no task: " << stack;
    if (!taskgroup) {
        EXPECT_EQ(inclusive(folded, "tg_heavy_child"), 0u) << dump;
    }
    Share plumbing = with_plumbing(folded, loop_plumbing(GetParam()));
    EXPECT_EQ(plumbing.good, 0u) << plumbing.good << " of " << plumbing.all
                                 << " samples show the loop's plumbing in the logical view:\n"
                                 << plumbing.bad_examples << dump;
}

// --raw-stacks: the interpreter's view, the children under the loop's plumbing
// (_run_once;_run / BaseEventLoop._run_once;Handle._run) and not under their parent.
TEST_P(AsyncioOnEachCPython, RawStacksShowTheLoopPlumbing) {
    Workload target({GetParam().path, workload("asyncio_gather_split.py"), "30"});
    TempDir dir;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "3", "--hz", "199", "--raw-stacks", "-o",
                       dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << said(r);
    auto folded = read_folded(dir / "p.folded");
    const std::string run_once = method(GetParam(), "BaseEventLoop", "_run_once");
    const std::string handle_run = method(GetParam(), "Handle", "_run");
    Share raw = share_of(folded, "gather_heavy_child", [&](const Names& names) {
        long h = index_of(names, handle_run);
        return index_of(names, run_once) >= 0 && h >= 0 && size_t(h) + 1 < names.size() &&
               names[size_t(h) + 1] == "gather_heavy_child" &&
               !has(names, "gather_parent");
    });
    ASSERT_GT(raw.all, 50u) << top_stacks(folded) << said(r);
    EXPECT_GE(double(raw.good), 0.97 * double(raw.all))
        << "raw stacks must read ..." << run_once << ";" << handle_run << ";gather_heavy_child: " << raw.good
        << " of " << raw.all << "; others:\n" << raw.bad_examples << top_stacks(folded);
}

// (c) Task chain_a awaits task chain_b awaits task chain_c, which spins: chain_c's samples read
// chain_a;chain_b;chain_c, the awaiting tasks above the running one.
TEST_P(AsyncioOnEachCPython, TaskAwaitingTaskAwaitingTaskReadsABC) {
    Workload target({GetParam().path, workload("asyncio_task_chain.py"), "30"});
    TempDir dir;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "4", "--hz", "199", "-o", dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << said(r);
    auto folded = read_folded(dir / "p.folded");
    Share chain = share_of(folded, "chain_spin", [](const Names& names) {
        return consecutive(names, {"chain_a", "chain_b", "chain_c", "chain_spin"}) >= 0;
    });
    // chain_c is on CPU nearly all the time: ~4 s x 199 Hz.
    ASSERT_GT(chain.all, 400u) << top_stacks(folded) << said(r);
    EXPECT_GE(double(chain.good), 0.97 * double(chain.all))
        << "chain_spin samples reading chain_a;chain_b;chain_c;chain_spin: " << chain.good << " of " << chain.all
        << "; others:\n" << chain.bad_examples << top_stacks(folded);
}

// (d) A gather of 200 children, each living ~2 ms (CPU, no await), over and over: the parent is
// found for short-lived tasks too, >= 95% of the children's samples have it.
TEST_P(AsyncioOnEachCPython, ShortLivedGatherChildrenKeepTheirParent) {
    Workload target({GetParam().path, workload("asyncio_gather_churn.py"), "30"});
    TempDir dir;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "5", "--hz", "199", "-o", dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << said(r);
    auto folded = read_folded(dir / "p.folded");
    Share children = share_of(folded, "short_child", [](const Names& names) {
        long p = index_of(names, "churn_parent");
        return p >= 0 && index_of(names, "short_child") > p;
    });
    ASSERT_GT(children.all, 400u) << top_stacks(folded) << said(r);
    // A 2 ms task is mostly gone by the time its samples are read; the kernel notes its first
    // callback (gather's), which names the parent while the gather lasts. Measured 2026-12-03 in
    // one pass over the 7 interpreters: 0.990-1.000 (0.85-0.97 before the callback was noted).
    EXPECT_GE(double(children.good), 0.95 * double(children.all))
        << "short_child samples under churn_parent: " << children.good << " of " << children.all << "; others:\n"
        << children.bad_examples << top_stacks(folded);
}

// (e) Three always-parked tasks and two CPU tasks, all alive through the run. --clock wall
// --group-by task: each task is a root `task "NAME" (COROUTINE)` weighing its lifetime in the
// run (within 10%), parked ones at their await, CPU ones half running and half ready
// ("[ready: waiting for the loop]"); the main task, which awaits the others, is not charged.
TEST_P(AsyncioOnEachCPython, ParkedAndBusyTasksWeighTheirLifetimes) {
    Workload target({GetParam().path, workload("asyncio_parked_tasks.py"), "30"});
    TempDir dir;
    const double seconds = 6;
    const unsigned hz = 99;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "6", "--clock", "wall", "--group-by", "task",
                       "-o", dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << said(r);
    auto folded = read_folded(dir / "p.folded");
    auto roots = per_root(folded);
    const std::string dump = dump_roots(roots) + top_stacks(folded);
    const double expected = seconds * hz;
    const std::string wait = method(GetParam(), "Event", "wait");
    struct Parked {
        const char *name, *coroutine;
        Names leaf;  // the logical stack's last frames
    };
    const Parked parked[] = {{"parked-event", "parked_on_event", {"parked_on_event", wait}},
                             {"parked-sleep", "parked_in_sleep", {"parked_in_sleep", "sleep"}},
                             {"parked-future", "parked_on_future", {"parked_on_future"}}};
    for (const auto& p : parked) {
        const std::string root = task_root(p.name, p.coroutine);
        EXPECT_NEAR(double(roots[root]), expected, 0.10 * expected) << root << " (alive all along)\n" << dump;
        uint64_t at_await = 0;
        for (const auto& [stack, n] : folded) {
            auto names = function_names(stack);
            if (split_frames(stack).front() != root) continue;  // the root frame whole: function_names() cuts its "(coroutine)"
            Names tail(names.end() - long(std::min(names.size(), p.leaf.size())), names.end());
            if (tail == p.leaf) at_await += n;
        }
        EXPECT_GE(double(at_await), 0.97 * double(roots[root]))
            << root << " must wait at ..." << joined(p.leaf) << ": " << at_await << " of " << roots[root] << "\n"
            << dump;
    }
    for (const char* name : {"cpu-1", "cpu-2"}) {
        const std::string root = task_root(name, "cpu_task");
        EXPECT_NEAR(double(roots[root]), expected, 0.10 * expected) << root << " (alive all along)\n" << dump;
        uint64_t running = 0, ready = 0;
        for (const auto& [stack, n] : folded) {
            auto frames = split_frames(stack);
            if (frames.front() != root) continue;
            // Running: in its step, at cpu_burn or in cpu_task around it (CI, 2 busy vCPUs, saw 67 of
            // 597 samples at cpu_task itself: the thread preempted there, charged where it stopped).
            const auto names = function_names(stack);
            if (frames.back() == "[ready: waiting for the loop]")
                ready += n;
            else if (names.back() == "cpu_burn" || names.back() == "cpu_task")
                running += n;
        }
        // Two tasks take turns in 10 ms steps: each runs half the time and waits its turn the rest.
        const double all = double(std::max<uint64_t>(roots[root], 1));
        EXPECT_NEAR(double(running) / all, 0.5, 0.1) << root << " in cpu_burn: " << running << "\n" << dump;
        EXPECT_NEAR(double(ready) / all, 0.5, 0.1)
            << root << " at [ready: waiting for the loop]: " << ready << "\n" << dump;
    }
    // main() awaits the gather of the five: its children carry the time, not main.
    uint64_t main_weight = 0;
    for (const auto& [root, n] : roots)
        if (root.size() > 7 && root.compare(root.size() - 7, 7, " (main)") == 0) main_weight += n;
    EXPECT_LE(double(main_weight), 0.02 * expected) << "the main task awaits others and must not be charged\n" << dump;
}

// (f) hog_loop (task "staller") blocks the loop 150 ms once a second beside two tickers taking
// 10 ms steps: one report per stall, as long as the loop iteration the workload timed (within
// 10%; 150-164 ms measured on an idle machine, as the tickers' steps that fell due run in the same
// iteration; up to 216 ms under load, when the spin is preempted: hence the workload's timing, not
// a fixed 150), naming the task and hog_loop, on the terminal and in the event log; no report for
// a 10 ms step.
TEST_P(AsyncioOnEachCPython, LoopBlockingIsReportedOncePerStall) {
    TempDir dir;
    RunResult r = run({binary, "--block-threshold", "100", "-o", dir / "events.jsonl", "--", GetParam().path,
                       workload("asyncio_loop_blocking.py"), "4.2"});
    ASSERT_EQ(r.exit_code, 0) << said(r);
    // The workload's own account (a launched command shares the tracer's stdout): stalls start at
    // 0.5, 1.5, 2.5, 3.5 s; each iteration over 100 ms is timed between the selector's calls.
    auto numbers = [&](const std::string& key) {
        std::vector<double> v;
        std::regex re(key + R"( ([0-9.]+))");
        for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), re); it != std::sregex_iterator(); ++it)
            v.push_back(std::stod((*it)[1]));
        return v;
    };
    const std::vector<double> stalls = numbers("blocked"), iterations = numbers("iteration");
    ASSERT_EQ(stalls.size(), 4u) << "workload stdout:\n" << r.out;
    ASSERT_EQ(iterations.size(), stalls.size()) << "only the stalls make long iterations:\n" << r.out;

    EXPECT_NE(r.err.find("without returning to the event loop: task \"staller\""), std::string::npos)
        << "the terminal report must name the task, e.g. '150.2 ms without returning to the event loop: task "
           "\"staller\" at asyncio_loop_blocking.py:NN (hog_loop)'\n"
        << said(r);
    EXPECT_NE(r.err.find("(hog_loop)"), std::string::npos) << said(r);

    ASSERT_TRUE(std::filesystem::exists(dir / "events.jsonl")) << "no event log written\n" << said(r);
    std::istringstream in(read_file(dir / "events.jsonl"));
    std::string line;
    std::regex duration_re("\"duration_ms\":([0-9.]+)");
    size_t events = 0;
    while (std::getline(in, line)) {
        if (line.find("\"event\":\"blocking\"") == std::string::npos) continue;
        std::smatch m;
        ASSERT_TRUE(std::regex_search(line, m, duration_re)) << line;
        const double ms = std::stod(m[1]);
        const double truth = events < iterations.size() ? iterations[events] : 150.0;
        EXPECT_NEAR(ms, truth, 0.10 * truth) << "report " << events + 1 << " vs the iteration the workload timed\n"
                                             << line;
        EXPECT_NE(line.find("\"what\":\"without returning to the event loop\""), std::string::npos) << line;
        EXPECT_NE(line.find("staller"), std::string::npos) << "the event must name task \"staller\": " << line;
        EXPECT_NE(line.find("hog_loop ("), std::string::npos) << line;
        EXPECT_NE(line.find("hog_spin ("), std::string::npos) << "the stacks sampled during the stall: " << line;
        events++;
    }
    EXPECT_EQ(events, stalls.size()) << "one report per 150 ms stall, none for a 10 ms step (stalls measured by "
                                     << "the workload: " << stalls.size() << ")\nevent log:\n"
                                     << read_file(dir / "events.jsonl") << said(r);
}

// (g) 10,000 tasks suspended at one Event for the whole run: with --clock wall --group-by task
// each is a root weighing the run within 10%; the tracer's CPU is printed, agrees with what the
// kernel accounted to it, and stays within budget.
TEST_P(AsyncioOnEachCPython, TenThousandSuspendedTasksEachWeighTheirLifetime) {
    Workload target({GetParam().path, workload("asyncio_many_tasks.py"), "60"});
    TempDir dir;
    const double seconds = 10;
    const unsigned hz = 99;
    const double cpu_before = reaped_children_cpu_s();
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "10", "--clock", "wall", "--group-by",
                       "task", "-o", dir / "p.folded"},
                      120);
    const double tracer_cpu = reaped_children_cpu_s() - cpu_before;
    ASSERT_EQ(r.exit_code, 0) << said(r);
    auto roots = per_root(read_folded(dir / "p.folded"));
    const double expected = seconds * hz;
    std::regex idle_root(R"re(task "idle-(\d+)" \(idle_task\))re");
    std::set<int> seen;
    size_t outside = 0;
    std::string examples;
    for (const auto& [root, n] : roots) {
        std::smatch m;
        if (!std::regex_match(root, m, idle_root)) continue;
        seen.insert(std::stoi(m[1]));
        if (double(n) < 0.9 * expected || double(n) > 1.1 * expected) {
            if (++outside <= 5) examples += "  " + root + " = " + std::to_string(n) + "\n";
        }
    }
    EXPECT_EQ(seen.size(), 10'000u) << "every idle task is its own root\n" << dump_roots(roots);
    EXPECT_EQ(outside, 0u) << outside << " idle tasks outside " << expected << " +-10%:\n"
                           << examples << dump_roots(roots);
    // The tracer says what it cost ("the tracer used X s of CPU", as --mode trace does).
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(the tracer used ([0-9.]+) s of CPU)")))
        << "the summary must print the tracer's CPU time\n" << said(r);
    const double printed_cpu = std::stod(m[1]);
    EXPECT_NEAR(printed_cpu, tracer_cpu, 0.2 * tracer_cpu + 0.05)
        << "printed vs accounted by the kernel (getrusage of the reaped tracer)";
    // Budget: the scans after the first (which reads every task once: ~19 us a task measured on
    // 3.11) stay within 5% of one CPU (they re-read only what changed; the scan period stretches to
    // keep them there); the BPF programs' load (~0.85 s of verifier time here) comes on top.
    ASSERT_TRUE(std::regex_search(
        r.err, m,
        std::regex(
            R"((\d+) task scans of up to \d+ tasks.*: the first read (\d+) tasks in ([0-9.]+) ms, the later ones ([0-9.]+) ms \(([0-9.]+)% of one CPU)")))
        << said(r);
    const double scans = std::stod(m[1]), later_ms = std::stod(m[4]);
    EXPECT_GE(std::stoul(m[2]), 10'000u);
    EXPECT_LE(std::stod(m[3]) / std::stod(m[2]), 0.2) << "ms per task in the first scan\n" << said(r);
    // (The budget is 3% in --clock wall; 5% is the bound this asks.) The budget paces each scan by
    // the scans before it: the last one's pause reaches past the end, so the run holds 5% plus up
    // to one later scan (CI, noisy: 6.06% at 121 ms a scan).
    const double one_scan_ms = scans > 1 ? later_ms / (scans - 1) : 0;
    EXPECT_LE(std::stod(m[5]), 5.0 + 100.0 * one_scan_ms / (seconds * 1000) + 0.3)
        << "later scans' share of one CPU\n" << said(r);
}

INSTANTIATE_TEST_SUITE_P(Live, AsyncioOnEachCPython, ::testing::ValuesIn(interpreters),
                         [](const auto& info) { return std::string(info.param.name); });
