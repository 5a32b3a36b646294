// Live: real BPF programs sampling real python3.11 processes.
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "live/bpf_ids.h"
#include "test_support.h"

using namespace pyat::test;

namespace {

// heavy() does 3x the work of light(): the ratio must come out near 3 in every format.
// Measured on this loaded 2-core VM: 2.19-3.9 (widest when two targets share the two CPUs); CI
// saw 4.36 (257:59) for a 2 s target under the hypervisor's steal.
constexpr double min_ratio = 2.0, max_ratio = 4.6;

void expect_three_to_one(uint64_t heavy, uint64_t light, const std::string& where) {
    ASSERT_GT(light, 50u) << where;
    double ratio = double(heavy) / double(light);
    EXPECT_GE(ratio, min_ratio) << where << ": heavy " << heavy << " light " << light;
    EXPECT_LE(ratio, max_ratio) << where << ": heavy " << heavy << " light " << light;
}

// Inclusive cost of `function` from `callgrind_annotate --inclusive=yes`.
uint64_t callgrind_inclusive(const std::string& file, const std::string& function) {
    RunResult r = run({"callgrind_annotate", "--inclusive=yes", file});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::regex line_re("^\\s*([\\d,]+) .*[ :]" + function + "( |$)");
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_search(line, m, line_re)) {
            std::string digits;
            for (char c : m[1].str())
                if (c != ',') digits += c;
            return std::stoull(digits);
        }
    }
    ADD_FAILURE() << "no " << function << " in callgrind_annotate output:\n" << r.out;
    return 0;
}

// Samples of frames whose tooltip names `function`, from the SVG's <title> elements.
uint64_t svg_samples(const std::string& svg, const std::string& function) {
    std::regex re("<title>" + function + R"( \([^<]*?([\d,]+) samples)");
    uint64_t n = 0;
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it) {
        std::string digits;
        for (char c : (*it)[1].str())
            if (c != ',') digits += c;
        n += std::stoull(digits);
    }
    return n;
}

}  // namespace

TEST(LiveSampling, AttachedProcessShowsKnownCostSplitInEveryFormat) {
    Workload target({debian_python, workload("cost_split.py")});
    TempDir dir;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-d", "4", "--hz", "199", "-o",
                       dir / "p.folded", "-o", dir / "p.callgrind", "-o", dir / "p.svg"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("wrote " + dir / "p.callgrind"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Hottest functions"), std::string::npos) << r.err;

    auto folded = read_folded(dir / "p.folded");
    expect_three_to_one(inclusive(folded, "heavy"), inclusive(folded, "light"), "folded");
    // Each sample lands inside work_loop under <module> -> main: the stacks are whole.
    EXPECT_GE(double(inclusive(folded, "work_loop")), 0.95 * double(total(folded)));
    for (const auto& [stack, count] : folded) {
        if (stack.find("heavy") != std::string::npos) {
            EXPECT_EQ(stack.rfind("<module> (", 0), 0u) << stack;
        }
    }

    std::string cg = dir / "p.callgrind";
    expect_three_to_one(callgrind_inclusive(cg, "heavy"), callgrind_inclusive(cg, "light"), "callgrind");
    RunResult plain = run({"callgrind_annotate", cg});
    EXPECT_EQ(plain.exit_code, 0);
    EXPECT_EQ(plain.err, "");

    RunResult xml = run({"xmllint", "--noout", dir / "p.svg"});
    EXPECT_EQ(xml.exit_code, 0) << xml.err;
    std::string svg = read_file(dir / "p.svg");
    expect_three_to_one(svg_samples(svg, "heavy"), svg_samples(svg, "light"), "svg");
}

TEST(LiveSampling, LaunchModeReturnsTheCommandsExitCode) {
    TempDir dir;
    RunResult r = run({binary, "-o", dir / "l.folded", "--hz", "199", "--", debian_python,
                       workload("cost_split.py"), "--seconds", "3", "--exit-code", "7"});
    EXPECT_EQ(r.exit_code, 7) << r.err;
    EXPECT_NE(r.out.find("ready"), std::string::npos);  // the command's own output passes through
    auto folded = read_folded(dir / "l.folded");
    expect_three_to_one(inclusive(folded, "heavy"), inclusive(folded, "light"), "launch");
}

TEST(LiveSampling, LaunchModeDefaultOutputsAreNamedAfterThePid) {
    TempDir dir;
    std::string cmd = "cd '" + dir.path().string() + "' && exec '" + binary + "' -q -- " + debian_python +
                      " -c 'import os; print(os.getpid(), flush=True); sum(i*i for i in range(3000000))'";
    RunResult r = run({"sh", "-c", cmd});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string pid = r.out.substr(0, r.out.find('\n'));
    EXPECT_TRUE(std::filesystem::exists(dir / ("pyasynctrace." + pid + ".callgrind"))) << r.err;
    EXPECT_TRUE(std::filesystem::exists(dir / ("pyasynctrace." + pid + ".svg"))) << r.err;
}

TEST(LiveSampling, SystemWideTracesEveryCPythonIncludingOnesStartedDuringTheRun) {
    Workload first({debian_python, workload("cost_split.py")});
    TempDir dir;
    Child tracer({binary, "-d", "5", "--hz", "199", "-o", dir / "all.folded", "-o", dir / "all.callgrind"});
    ASSERT_TRUE(tracer.wait_for_output("tracing PID " + std::to_string(first.pid()), 20, true)) << tracer.err();
    Workload second({"/root/.pyenv/versions/3.11.7/bin/python3.11", workload("cost_split.py")});  // shared libpython
    ASSERT_EQ(tracer.wait(60), 0) << tracer.err();

    auto folded = read_folded(dir / "all.folded");
    for (pid_t pid : {first.pid(), second.pid()}) {
        std::string root = "python3.11 [" + std::to_string(pid) + "]";
        uint64_t heavy = 0, light = 0;
        for (const auto& [stack, count] : folded) {
            if (stack.rfind(root + ";", 0) != 0) continue;
            if (stack.find(";heavy (") != std::string::npos) heavy += count;
            if (stack.find(";light (") != std::string::npos) light += count;
        }
        expect_three_to_one(heavy, light, root);
        std::string cg = dir / ("all.callgrind." + std::to_string(pid));
        EXPECT_TRUE(std::filesystem::exists(cg)) << tracer.err();
        EXPECT_EQ(run({"callgrind_annotate", cg}).exit_code, 0);
    }
}

TEST(LiveSampling, TargetExitingMidRunKeepsWhatWasCollected) {
    Workload target({debian_python, workload("cost_split.py"), "--seconds", "2"});
    TempDir dir;
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "--hz", "199", "-o", dir / "x.folded"}, 60);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("exited"), std::string::npos) << r.err;
    auto folded = read_folded(dir / "x.folded");
    expect_three_to_one(inclusive(folded, "heavy"), inclusive(folded, "light"), "exited target");
}

TEST(LiveSampling, WallClockChargesSleepToTheSleepingStack) {
    Workload target({debian_python, workload("sleep_split.py")});
    TempDir dir;
    std::string pid = std::to_string(target.pid());
    RunResult wall = run({binary, "-q", "-p", pid, "-d", "4", "--hz", "199", "--clock", "wall", "-o", dir / "w.folded"});
    ASSERT_EQ(wall.exit_code, 0) << wall.err;
    RunResult cpu = run({binary, "-q", "-p", pid, "-d", "3", "--hz", "199", "-o", dir / "c.folded"});
    ASSERT_EQ(cpu.exit_code, 0) << cpu.err;

    auto w = read_folded(dir / "w.folded");
    // Wall time: 4 s at 199 Hz is ~796 samples, on-CPU and off-CPU together.
    EXPECT_NEAR(double(total(w)), 4 * 199, 4 * 199 * 0.1);
    // nap() sleeps 3x as long as compute() runs; compute() stretches under CPU contention
    // (its run-queue waits are wall time too), so only ask that sleeping dominates.
    EXPECT_GT(double(inclusive(w, "nap")), 0.5 * double(total(w)))
        << "nap " << inclusive(w, "nap") << " compute " << inclusive(w, "compute");
    EXPECT_GT(inclusive(w, "compute"), 40u);
    EXPECT_GE(double(inclusive(w, "rounds")), 0.95 * double(total(w)));

    auto c = read_folded(dir / "c.folded");
    EXPECT_GT(inclusive(c, "compute"), 50u);
    EXPECT_LT(double(inclusive(c, "nap")), 0.05 * double(total(c)));
}

// The programs checked are this tracer's own (from its fds): other tracers may run on the host.
TEST(LiveSampling, CtrlCWritesTheProfileAndReleasesEveryBpfObject) {
    Workload target({debian_python, workload("cost_split.py")});
    TempDir dir;
    for (int sig : {SIGINT, SIGTERM}) {
        std::string out = dir / ("s" + std::to_string(sig) + ".folded");
        Child tracer({binary, "-p", std::to_string(target.pid()), "--hz", "199", "-o", out});
        ASSERT_TRUE(tracer.wait_for_output("tracing PID", 20, true)) << tracer.err();
        std::this_thread::sleep_for(std::chrono::seconds(1));  // collect samples, then interrupt
        const auto programs = bpf_programs_held_by(tracer.pid());
        EXPECT_GE(programs.size(), 3u) << "exec, exit and the sampler at least";
        tracer.signal(sig);
        ASSERT_EQ(tracer.wait(30), 0) << tracer.err();
        EXPECT_GT(inclusive(read_folded(out), "heavy"), 0u) << tracer.err();
        EXPECT_EQ(bpf_programs_left(programs, std::chrono::seconds(10)).size(), 0u) << "signal " << sig;
    }
}
