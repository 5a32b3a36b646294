// Live: targets whose files are gone from disk, as after a package upgrade (/proc/PID/maps says
// "(deleted)"), and the planted-FIFO attack (a user deletes the binary they run and puts a FIFO at
// its name): profiled as usual through /proc/PID/map_files and /proc/PID/exe, uprobes and USDT
// probes attached to the deleted files fire, and nothing ever blocks on the FIFO.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>

#include "live/interpreters.h"
#include "test_support.h"

using namespace pyat::test;

namespace {

const Interpreter& debian = interpreters[0];

// The lines of /proc/PID/maps naming `path`.
std::string maps_naming(pid_t pid, const std::string& path) {
    std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/maps"));
    std::string line, found;
    while (std::getline(in, line))
        if (line.find(path) != std::string::npos) found += line + "\n";
    return found;
}

// A copy of an interpreter (and its libpython) in a temporary directory, run from there, its files
// then deleted, and with `plant_fifos` a FIFO put at each one's name.
class DeletedInterpreter {
public:
    DeletedInterpreter(const Interpreter& interp, const std::vector<std::string>& args, bool plant_fifos,
                       const std::vector<std::string>& environment = {}) {
        std::filesystem::create_directories(dir_.path() / "bin");
        std::filesystem::create_directories(dir_.path() / "lib");
        const std::string program = std::string("python") + interp.version;
        python_ = dir_ / ("bin/" + program);
        std::vector<std::string> argv{"env"};
        argv.insert(argv.end(), environment.begin(), environment.end());
        if (*interp.prefix) {
            std::filesystem::copy_file(std::string(interp.prefix) + "/bin/" + program, python_);
            const std::string lib = std::string("lib") + program + ".so.1.0";
            libpython_ = dir_ / ("lib/" + lib);
            std::filesystem::copy_file(std::string(interp.prefix) + "/lib/" + lib, libpython_);
            argv.insert(argv.end(), {"LD_LIBRARY_PATH=" + (dir_ / "lib"), std::string("PYTHONHOME=") + interp.prefix});
        } else {
            std::filesystem::copy_file(debian_python, python_);
        }
        argv.push_back(python_);
        argv.insert(argv.end(), args.begin(), args.end());
        process_ = std::make_unique<Workload>(argv);
        for (const auto& file : {python_, libpython_}) {
            if (file.empty()) continue;
            if (maps_naming(pid(), file).empty()) throw std::runtime_error(file + " is not what the workload runs");
            std::filesystem::remove(file);
            if (plant_fifos && mkfifo(file.c_str(), 0644)) throw std::runtime_error("mkfifo failed");
            if (maps_naming(pid(), file + " (deleted)").empty()) throw std::runtime_error(file + " is not deleted");
        }
    }
    pid_t pid() const { return process_->pid(); }
    Workload& process() { return *process_; }
    const std::string& python() const { return python_; }
    const std::string& libpython() const { return libpython_; }
    const TempDir& dir() const { return dir_; }

private:
    TempDir dir_;
    std::string python_, libpython_;
    std::unique_ptr<Workload> process_;
};

// cost_split.py: heavy() 3x light() (the bounds of EveryCPython.KnownCostSplitAndHotLine).
void expect_cost_split(const std::map<std::string, uint64_t>& folded) {
    uint64_t heavy = inclusive(folded, "heavy"), light = inclusive(folded, "light");
    ASSERT_GT(light, 50u);
    EXPECT_GE(double(heavy) / double(light), 2.0) << heavy << " / " << light;
    EXPECT_LE(double(heavy) / double(light), 4.3) << heavy << " / " << light;
    EXPECT_GE(double(inclusive(folded, "work_loop")), 0.97 * double(total(folded)));
}

// Runs the tracer with `args`, killed if it takes longer than `timeout_s`: whether it hung.
struct TracerRun {
    int exit_code = 0;
    bool hung = false;
    std::string err;
};
TracerRun run_tracer(const std::vector<std::string>& args, double timeout_s = 60) {
    Child tracer(args);
    int code = tracer.wait(timeout_s);
    return {code, tracer.timed_out(), tracer.err()};
}

// The caps pyasynctrace documents as enough (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE) and root's
// others, but not the ones /proc/PID/map_files needs.
const std::vector<std::string> without_map_files_caps = {"setpriv", "--bounding-set=-sys_admin,-checkpoint_restore",
                                                         "--"};

class DeletedFiles : public ::testing::TestWithParam<Interpreter> {};

}  // namespace

// After an upgrade: the binary (and libpython) the process runs are gone from disk.
TEST_P(DeletedFiles, InterpreterAndLibpythonDeletedProfileAsUsual) {
    DeletedInterpreter target(GetParam(), {workload("cost_split.py")}, false);
    TempDir out;
    TracerRun r = run_tracer({binary, "-p", std::to_string(target.pid()), "-d", "4", "--hz", "499", "-o",
                              out / "p.folded"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_cost_split(read_folded(out / "p.folded"));
}

// The planted FIFO: the tracer reads the mapped files, never the FIFOs at their names, and never
// blocks (before: it hung inside open() of the FIFO, for good).
TEST_P(DeletedFiles, FifoPlantedAtTheDeletedNamesNeverBlocksAndTheProcessIsProfiled) {
    DeletedInterpreter target(GetParam(), {workload("cost_split.py")}, true);
    TempDir out;
    TracerRun r = run_tracer({binary, "-q", "-p", std::to_string(target.pid()), "-d", "4", "--hz", "499", "-o",
                              out / "p.folded"});
    ASSERT_FALSE(r.hung) << r.err;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_cost_split(read_folded(out / "p.folded"));
}

INSTANTIATE_TEST_SUITE_P(Live, DeletedFiles, ::testing::ValuesIn(interpreters),
                         [](const auto& info) { return std::string(info.param.name); });

// Without the capability map_files needs: a static interpreter is still read through
// /proc/PID/exe; a deleted libpython cannot be, and the tracer says so in one line, at once.
TEST(DeletedFilesWithoutMapFiles, StaticInterpreterIsReadThroughProcExe) {
    DeletedInterpreter target(debian, {workload("cost_split.py")}, true);
    TempDir out;
    std::vector<std::string> argv = without_map_files_caps;
    argv.insert(argv.end(), {binary, "-q", "-p", std::to_string(target.pid()), "-d", "4", "--hz", "499", "-o",
                             out / "p.folded"});
    TracerRun r = run_tracer(argv);
    ASSERT_FALSE(r.hung) << r.err;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_cost_split(read_folded(out / "p.folded"));
}

TEST(DeletedFilesWithoutMapFiles, DeletedLibpythonIsAClearErrorNeverAHang) {
    DeletedInterpreter target(interpreters[5], {workload("cost_split.py")}, true);
    TempDir out;
    std::vector<std::string> argv = without_map_files_caps;
    argv.insert(argv.end(), {binary, "-p", std::to_string(target.pid()), "-d", "3", "-o", out / "p.folded"});
    TracerRun r = run_tracer(argv, 20);
    ASSERT_FALSE(r.hung) << r.err;
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(target.libpython() + " was deleted on disk after PID " + std::to_string(target.pid())),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("CAP_SYS_ADMIN"), std::string::npos) << r.err;
}

// USDT probes of a deleted interpreter: --mode trace counts calls from function__return, as on the
// file on disk (call_counts.py prints how often it called leaf()).
TEST(DeletedFilesProbes, TraceModeCountsCallsThroughTheDeletedBinarysProbes) {
    DeletedInterpreter target(debian, {workload("call_counts.py"), "300"}, true);
    TempDir out;
    Child tracer({binary, "--mode", "trace", "-p", std::to_string(target.pid()), "-o", out / "c.callgrind"});
    ASSERT_EQ(release_and_wait(target.process(), tracer, "tracing every call"), "");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(target.process().out(), m, std::regex(R"(count leaf (\d+))"))) << target.process().out();
    const uint64_t leaf_calls = std::stoull(m[1]);
    // Calls of leaf, from every caller: "cfn=(id) leaf" (or "cfn=(id)" once named), then "calls=N ...".
    std::istringstream in(read_file(out / "c.callgrind"));
    std::map<std::string, std::string> names;
    std::string line, callee;
    uint64_t counted = 0;
    while (std::getline(in, line)) {
        std::smatch f;
        if (std::regex_match(line, f, std::regex(R"((?:c?fn)=(\(\d+\))(?: (.*))?)"))) {
            if (f[2].matched) names[f[1]] = f[2];
            if (line.rfind("cfn=", 0) == 0) callee = names[f[1]];
        } else if (line.rfind("calls=", 0) == 0 && callee.rfind("leaf", 0) == 0) {
            counted += std::stoull(line.substr(6));
        }
    }
    EXPECT_EQ(counted, leaf_calls) << tracer.err();
}

// --deferred-log hooks function__return of the deleted binary in sample mode: entries come.
TEST(DeletedFilesProbes, DeferredLogHooksTheDeletedBinarysReturnProbe) {
    DeletedInterpreter target(debian, {workload("twisted_lifecycle.py")}, true);
    TempDir out;
    Child tracer({binary, "-p", std::to_string(target.pid()), "--deferred-log", "-o", out / "life.jsonl"});
    ASSERT_EQ(release_and_wait(target.process(), tracer, "logging the Deferred lifecycle"), "");
    std::string log = read_file(out / "life.jsonl");
    // twisted_lifecycle.py creates six Deferreds, d1 to d6.
    size_t created = 0;
    for (size_t at = 0; (at = log.find("\"created\"", at)) != std::string::npos; at++) created++;
    EXPECT_GE(created, 6u) << log;
}

// greenlet's extension deleted (and a FIFO at its name), with the interpreter: its switch uprobe,
// attached through the mapped file, fires.
TEST(DeletedFilesProbes, GreenletSwitchesOfADeletedExtensionAreFollowed) {
    TempDir packages;
    std::filesystem::copy("/usr/lib/python3/dist-packages/greenlet", packages / "greenlet",
                          std::filesystem::copy_options::recursive);
    std::string extension;
    for (const auto& e : std::filesystem::directory_iterator(packages / "greenlet"))
        if (e.path().filename().string().rfind("_greenlet", 0) == 0) extension = e.path();
    ASSERT_FALSE(extension.empty());
    DeletedInterpreter target(debian, {workload("greenlet_kinds.py")}, true, {"PYTHONPATH=" + packages.path().string()});
    ASSERT_FALSE(maps_naming(target.pid(), extension).empty()) << "greenlet is not loaded from the copy";
    std::filesystem::remove(extension);
    ASSERT_EQ(mkfifo(extension.c_str(), 0644), 0);
    TempDir out;
    TracerRun r = run_tracer({binary, "-p", std::to_string(target.pid()), "-d", "3", "--clock", "wall", "-o",
                              out / "p.folded"});
    ASSERT_FALSE(r.hung) << r.err;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("following greenlet 2."), std::string::npos) << r.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(followed (\d+) greenlet switches)"))) << r.err;
    EXPECT_GT(std::stoull(m[1]), 1000u) << r.err;
    auto folded = read_folded(out / "p.folded");
    EXPECT_GT(inclusive(folded, "alpha_wait"), 50u);  // parked time, known only from the switches
}

// A FIFO in place of greenlet's __init__.py (read for its version): refused at once, the run goes on.
TEST(DeletedFilesProbes, FifoInPlaceOfGreenletsInitNeverBlocks) {
    TempDir packages;
    std::filesystem::copy("/usr/lib/python3/dist-packages/greenlet", packages / "greenlet",
                          std::filesystem::copy_options::recursive);
    Workload target({"env", "PYTHONPATH=" + packages.path().string(), debian_python, workload("greenlet_kinds.py")});
    const std::string init = packages / "greenlet/__init__.py";
    std::filesystem::remove(init);
    ASSERT_EQ(mkfifo(init.c_str(), 0644), 0);
    TempDir out;
    TracerRun r = run_tracer({binary, "-p", std::to_string(target.pid()), "-d", "2", "--clock", "wall", "-o",
                              out / "p.folded"});
    ASSERT_FALSE(r.hung) << r.err;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("uses greenlet (unknown version)"), std::string::npos) << r.err;
    EXPECT_GT(total(read_folded(out / "p.folded")), 100u);
}
