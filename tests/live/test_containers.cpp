// Live: CPython in a PID namespace of its own, as in any container (`unshare -p -f -r`, with and
// without --mount-proc), on every CPython here: the same cost split and the same threads, names
// and waits as outside a namespace, in cpu and wall clock, attached (-p) and system-wide.
#include <dirent.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "live/interpreters.h"
#include "test_support.h"

using namespace pyat::test;

namespace {

// The IDs on the NSpid line of a /proc status file, outermost first.
std::vector<std::string> nspid(const std::string& status_path) {
    std::smatch m;
    std::string status = read_file(status_path);
    std::vector<std::string> ids;
    if (!std::regex_search(status, m, std::regex(R"(\nNSpid:\t([^\n]*))"))) return ids;
    std::istringstream in(m[1].str());
    for (std::string id; in >> id;) ids.push_back(id);
    return ids;
}

// The child of `parent`, as the host numbers it (0: none), from /proc/*/stat.
pid_t child_of(pid_t parent) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string stat = read_file(entry.path() / "stat");
        auto paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        std::istringstream fields(stat.substr(paren + 2));
        std::string state;
        pid_t ppid = 0;
        if (fields >> state >> ppid && ppid == parent) return pid_t(std::stoi(name));
    }
    return 0;
}

// A workload in PID and user namespaces of its own: the interpreter is the namespace's PID 1.
class NamespacedWorkload {
public:
    NamespacedWorkload(const std::string& python, const std::string& script, bool mount_proc)
        : unshare_(arguments(python, script, mount_proc)) {
        if (!unshare_.wait_for_output("ready", 30))
            throw std::runtime_error("namespaced workload did not start: " + unshare_.err());
        host_pid_ = child_of(unshare_.pid());
        auto ids = host_pid_ ? nspid(fmt("/proc/{}/status", host_pid_)) : std::vector<std::string>{};
        if (ids.size() != 2 || ids.back() != "1")
            throw std::runtime_error("the workload is not PID 1 of its own namespace: " + std::to_string(host_pid_));
    }
    ~NamespacedWorkload() {
        if (host_pid_ > 0) kill(host_pid_, SIGKILL);  // from the host's namespace: even its PID 1 dies
    }
    NamespacedWorkload(const NamespacedWorkload&) = delete;
    NamespacedWorkload& operator=(const NamespacedWorkload&) = delete;
    pid_t host_pid() const { return host_pid_; }
    const std::string& out() const { return unshare_.out(); }
    // Namespace TID -> host TID, for every thread now.
    std::map<std::string, std::string> host_tids() const {
        std::map<std::string, std::string> tids;
        for (const auto& task : std::filesystem::directory_iterator(fmt("/proc/{}/task", host_pid_))) {
            auto ids = nspid(task.path() / "status");
            if (ids.size() == 2) tids[ids.back()] = ids.front();
        }
        return tids;
    }

private:
    static std::string fmt(const char* pattern, pid_t pid) {
        std::string s = pattern;
        return s.replace(s.find("{}"), 2, std::to_string(pid));
    }
    static std::vector<std::string> arguments(const std::string& python, const std::string& script, bool mount_proc) {
        std::vector<std::string> argv{"unshare", "--pid", "--fork", "--map-root-user", "--kill-child"};
        if (mount_proc) argv.push_back("--mount-proc");
        argv.insert(argv.end(), {python, script});
        return argv;
    }
    Child unshare_;
    pid_t host_pid_ = 0;
};

std::string program_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// Stacks under `root;` (root stripped); all of them when root is "".
std::map<std::string, uint64_t> under(const std::map<std::string, uint64_t>& folded, const std::string& root) {
    if (root.empty()) return folded;
    std::map<std::string, uint64_t> out;
    for (const auto& [stack, n] : folded)
        if (stack.rfind(root + ";", 0) == 0) out[stack.substr(root.size() + 1)] += n;
    return out;
}

// cost_split.py: heavy() 3x light(), every sample in Python code (the bounds of
// EveryCPython.KnownCostSplitAndHotLine, measured outside a namespace: 2.19-3.9).
void expect_cost_split(const std::map<std::string, uint64_t>& folded, const std::string& what) {
    uint64_t heavy = inclusive(folded, "heavy"), light = inclusive(folded, "light");
    ASSERT_GT(light, 50u) << what;
    EXPECT_GE(double(heavy) / double(light), 2.0) << what << ": " << heavy << " / " << light;
    EXPECT_LE(double(heavy) / double(light), 4.3) << what << ": " << heavy << " / " << light;
    EXPECT_GE(double(inclusive(folded, "work_loop")), 0.97 * double(total(folded)))
        << what << ": " << inclusive(folded, "[non-Python thread]") << " of " << total(folded)
        << " samples not in Python";
    for (const auto& [stack, count] : folded) {
        auto names = function_names(stack);
        if (!has(names, "heavy")) continue;
        ASSERT_GE(names.size(), 4u) << stack;
        EXPECT_EQ(names[0], "<module>") << stack;
        EXPECT_EQ(names[1], "main") << stack;
        EXPECT_EQ(names[2], "work_loop") << stack;
    }
}

// named_threads.py in wall clock, --group-by thread: each long-lived thread under its name and
// host TID with about the run's length of wall time, whether it computed or blocked (as in
// EveryCPython.NamedThreadsKeptApartInWallModeWithGroupByThread: 0.85-1.10 of duration x hz there).
// `out`: what the workload printed; `host_tids`: its TIDs (as it printed them) -> the host's.
void expect_named_threads(const std::map<std::string, uint64_t>& folded, const std::string& out,
                          std::map<std::string, std::string> host_tids, double seconds, unsigned hz) {
    std::map<std::string, std::string> ns_tid_of;  // name -> TID the workload printed (its namespace's)
    std::regex line_re(R"(thread (\S+) (\d+))");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), line_re); it != std::sregex_iterator(); ++it)
        ns_tid_of[(*it)[1]] = (*it)[2];
    ASSERT_EQ(ns_tid_of.size(), 4u) << out;

    std::map<std::string, uint64_t> per_root;
    std::map<std::string, std::vector<std::string>> stacks_of;
    for (const auto& [stack, count] : folded) {
        std::string root = split_frames(stack).front();
        per_root[root] += count;
        stacks_of[root].push_back(stack);
    }
    std::string roots;
    for (const auto& [root, n] : per_root) roots += root + " = " + std::to_string(n) + "\n";
    for (const auto& [name, ns_tid] : ns_tid_of) {
        ASSERT_TRUE(host_tids.count(ns_tid)) << name << " " << ns_tid;
        std::string root = "thread \"" + name + "\" [" + host_tids[ns_tid] + "]";
        ASSERT_TRUE(per_root.count(root)) << root << " missing; roots:\n" << roots;
        EXPECT_GE(double(per_root[root]), 0.85 * seconds * hz) << root << "\n" << roots;
        // Up to 1.06 in 20 runs at load 5.5; the busy MainThread reached 1.11 once in a full suite
        // run under heavier load (its on-CPU samples come from the frequency-mode cpu-clock).
        EXPECT_LE(double(per_root[root]), 1.15 * seconds * hz) << root << "\n" << roots;
    }
    auto expect_all = [&](const std::string& name, const std::string& must, const std::string& never) {
        std::string root = "thread \"" + name + "\" [" + host_tids[ns_tid_of[name]] + "]";
        for (const auto& stack : stacks_of[root]) {
            auto names = function_names(stack);
            EXPECT_TRUE(has(names, must)) << name << ": " << stack;
            EXPECT_FALSE(has(names, never)) << name << ": " << stack;
        }
    };
    expect_all("MainThread", "main", "nap");
    expect_all("sleeper-alpha", "nap", "main");
    expect_all("waiter-beta", "wait_for_event", "nap");
    expect_all("spawner", "spawn_short_threads", "spin");
    // Every thread here was started by threading: all named, short-lived ones too.
    for (const auto& [root, n] : per_root) EXPECT_EQ(root.rfind("thread \"", 0), 0u) << roots;
}

class InPidNamespace : public OnEachInterpreter {};

}  // namespace

TEST_P(InPidNamespace, AttachedCpuClockGivesTheSplitOfOutside) {
    NamespacedWorkload target(GetParam().path, workload("cost_split.py"), true);
    TempDir dir;
    RunResult r = run({binary, "-q", "-p", std::to_string(target.host_pid()), "-d", "4", "--hz", "499", "-o",
                       dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_cost_split(read_folded(dir / "p.folded"), "namespaced");
}

// Without --mount-proc the namespace sees the host's /proc: the process's TIDs are its own all the same.
TEST_P(InPidNamespace, AttachedWallClockKeepsEveryThreadItsNameAndItsWaits) {
    NamespacedWorkload target(GetParam().path, workload("named_threads.py"), false);
    TempDir dir;
    RunResult r = run({binary, "-q", "-p", std::to_string(target.host_pid()), "-d", "3", "--hz", "99", "--clock",
                       "wall", "--group-by", "thread", "-o", dir / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_named_threads(read_folded(dir / "p.folded"), target.out(), target.host_tids(), 3, 99);
}

// Host-wide (no target; other CPythons may run on the host too): a namespaced process and one
// outside, side by side in the same run, each with its own known split.
TEST_P(InPidNamespace, SystemWideCpuClockSplitsInsideAndOutsideAlike) {
    NamespacedWorkload inside(GetParam().path, workload("cost_split.py"), true);
    Workload outside({GetParam().path, workload("cost_split.py")});
    TempDir dir;
    Child tracer({binary, "-d", "4", "--hz", "499", "-o", dir / "all.folded"});
    ASSERT_EQ(tracer.wait(60), 0) << tracer.err();
    const auto folded = read_folded(dir / "all.folded");
    const std::string program = program_of(GetParam().path);
    expect_cost_split(under(folded, program + " [" + std::to_string(inside.host_pid()) + "]"), "namespaced");
    expect_cost_split(under(folded, program + " [" + std::to_string(outside.pid()) + "]"), "outside");
}

TEST_P(InPidNamespace, SystemWideWallClockKeepsEveryThreadItsNameAndItsWaitsInsideAndOutside) {
    NamespacedWorkload inside(GetParam().path, workload("named_threads.py"), true);
    Workload outside({GetParam().path, workload("named_threads.py")});
    std::map<std::string, std::string> outside_tids;  // the host's own: the identity
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(outside.pid()) + "/task"))
        outside_tids[task.path().filename()] = task.path().filename();
    TempDir dir;
    RunResult r = run({binary, "-q", "-d", "3", "--hz", "99", "--clock", "wall", "--group-by", "thread", "-o",
                       dir / "all.folded"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto folded = read_folded(dir / "all.folded");
    const std::string program = program_of(GetParam().path);
    {
        SCOPED_TRACE("namespaced");
        expect_named_threads(under(folded, program + " [" + std::to_string(inside.host_pid()) + "]"), inside.out(),
                             inside.host_tids(), 3, 99);
    }
    {
        SCOPED_TRACE("outside");
        expect_named_threads(under(folded, program + " [" + std::to_string(outside.pid()) + "]"), outside.out(),
                             outside_tids, 3, 99);
    }
}

INSTANTIATE_TEST_SUITE_P(Live, InPidNamespace, ::testing::ValuesIn(interpreters),
                         [](const auto& info) { return std::string(info.param.name); });
