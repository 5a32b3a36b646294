// Live: processes that a traced process starts. A launched command's forked children are traced
// from their first instruction (the kernel follows the fork), each getting the samples its CPU
// time is due; -p --subprocesses does the same for an attached process; a traced process that
// execs another Python program is traced as that program from then on, and what it ran before is
// kept apart.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>

#include "test_support.h"

using namespace pyat::test;

namespace {

constexpr unsigned hz = 999;  // enough samples that a 0.3 s child is counted within a few percent

// "python3.11 [PID]" root frame -> samples.
std::map<int, uint64_t> samples_per_process(const std::string& folded_path) {
    std::map<int, uint64_t> per;
    const std::regex root(R"(^[^;]* \[(\d+)\])");
    for (const auto& [stack, count] : read_folded(folded_path)) {
        std::smatch m;
        if (std::regex_search(stack, m, root)) per[std::stoi(m[1])] += count;
    }
    return per;
}

// Each child's CPU time as it reported it: pid -> seconds.
std::map<int, double> reported_children(const std::string& out) {
    std::map<int, double> cpu;
    const std::regex line(R"(child (\d+) cpu ([0-9.]+))");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it)
        cpu[std::stoi((*it)[1])] = std::stod((*it)[2]);
    return cpu;
}

// The share of the time the vCPUs wanted to run that the hypervisor took instead (steal over
// steal plus busy time, /proc/stat) since it was made. A cpu-clock perf event counts the vCPU's
// clock, steal included, while a process's own CPU time leaves steal out: on this shared VM a busy
// child is sampled up to that much more than its CPU time is due (measured: 0.3 s children got
// 1.05-1.11x their due, every extra sample in their own Python frames, with steal at 10% of all
// time; CI saw 1.15-1.17x).
class StealMeter {
public:
    StealMeter() : start_(read()) {}
    double share() const {
        auto now = read();
        double total = now.total - start_.total;
        return total > 0 ? (now.steal - start_.steal) / total : 0.0;  // of busy-or-stolen time
    }

private:
    struct Times {
        double steal = 0, total = 0;
    };
    static Times read() {
        std::ifstream in("/proc/stat");
        std::string cpu;
        in >> cpu;
        Times t;
        for (int i = 0; i < 8; i++) {  // user nice system idle iowait irq softirq steal
            double v = 0;
            in >> v;
            if (i != 3 && i != 4) t.total += v;  // busy or stolen, not idle
            if (i == 7) t.steal = v;
        }
        return t;
    }
    Times start_;
};

// Every child gets at least 80% of what its CPU time is due at `hz` and at most 110% plus the
// steal share above (0.3 s children included: they live less than any periodic rescan would
// notice, and one found 100 ms late would get under 70%). The floor is from measurements: on a
// quiet machine 0.96-1.03 of due; with three CPU hogs beside it 0.90-1.03 (the cpu-clock timer is
// per CPU, and a preempted child's share of its expiries wobbles with the scheduler); CI saw 0.87.
void expect_children_sampled(const std::map<int, double>& children, const std::map<int, uint64_t>& samples,
                             double steal) {
    ASSERT_EQ(children.size(), 4u);
    for (const auto& [pid, cpu] : children) {
        double due = cpu * hz;
        auto it = samples.find(pid);
        uint64_t got = it == samples.end() ? 0 : it->second;
        EXPECT_GE(double(got), 0.80 * due) << "child " << pid << " used " << cpu << " s of CPU";
        EXPECT_LE(double(got), (1.10 + steal) * due)
            << "child " << pid << " used " << cpu << " s of CPU; steal was " << steal << " of the machine's time";
    }
}

}  // namespace

TEST(LiveProcesses, ALaunchedCommandsForkedChildrenGetTheirDueSamples) {
    TempDir dir;
    StealMeter steal;
    Child tracer({binary, "-q", "--hz", std::to_string(hz), "-o", dir / "f.folded", "--", debian_python,
                  workload("forked_children.py")});
    ASSERT_EQ(tracer.wait(60), 0) << tracer.err();
    expect_children_sampled(reported_children(tracer.out()), samples_per_process(dir / "f.folded"), steal.share());
}

TEST(LiveProcesses, SubprocessesFollowsWhatAnAttachedProcessForks) {
    Workload target({debian_python, workload("forked_children.py"), "--wait-for-signal"});
    TempDir dir;
    Child tracer({binary, "-p", std::to_string(target.pid()), "--subprocesses", "--hz", std::to_string(hz), "-o",
                  dir / "f.folded"});
    StealMeter steal;
    ASSERT_EQ(release_and_wait(target, tracer, "pyasynctrace: tracing PID"), "");
    expect_children_sampled(reported_children(target.out()), samples_per_process(dir / "f.folded"), steal.share());

    // Without --subprocesses, only the process given.
    Workload alone({debian_python, workload("forked_children.py"), "--wait-for-signal"});
    Child only({binary, "-p", std::to_string(alone.pid()), "--hz", std::to_string(hz), "-o", dir / "g.folded"});
    ASSERT_EQ(release_and_wait(alone, only, "pyasynctrace: tracing PID"), "");
    auto per = samples_per_process(dir / "g.folded");
    for (const auto& [pid, cpu] : reported_children(alone.out())) EXPECT_EQ(per.count(pid), 0u) << pid;
}

TEST(LiveProcesses, AProcessThatExecsAnotherPythonProgramIsTracedAsThatProgram) {
    TempDir dir;
    // 1 s of CPU in before_exec, then, the same PID exec'd anew, 1 s in after_exec.
    RunResult r = run({binary, "-q", "--hz", std::to_string(hz), "-o", dir / "e.folded", "--", debian_python,
                       workload("exec_into.py"), "1", debian_python, workload("exec_into.py"), "after", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto folded = read_folded(dir / "e.folded");
    // Within 10% of the samples each second of CPU is due (the new program is found by its
    // exec event, so its first few milliseconds may go unsampled).
    EXPECT_NEAR(double(inclusive(folded, "before_exec")), hz, 0.1 * hz);
    EXPECT_NEAR(double(inclusive(folded, "after_exec")), hz, 0.1 * hz);
    for (const auto& [stack, count] : folded) {  // never one program's frames in the other's stack
        bool before = stack.find("before_exec") != std::string::npos;
        bool after = stack.find("after_exec") != std::string::npos;
        EXPECT_FALSE(before && after) << stack;
    }
}
