// Every bad input gives one clear line on stderr and a non-zero exit, before anything is attached.
#include <gtest/gtest.h>

#include "test_support.h"

using namespace pyat::test;

namespace {

void expect_error(const RunResult& r, int code, const std::string& text) {
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line:\n" << r.err;
    EXPECT_EQ(r.err.find("terminate called"), std::string::npos);
}

}  // namespace

TEST(Errors, NoSuchPid) {
    expect_error(run({binary, "-p", "4194304"}), 1, "no process with PID 4194304");
}

TEST(Errors, PidThatIsNotCPythonSaysWhatWasFound) {
    Child sleeper({"sleep", "60"});
    RunResult r = run({binary, "-p", std::to_string(sleeper.pid())});
    expect_error(r, 1, "is not a CPython process");
    EXPECT_NE(r.err.find("sleep"), std::string::npos) << r.err;
}

TEST(Errors, UnsupportedCPythonVersionNamesItAndTheSupportedOnes) {
    for (std::string old_python : {"/root/.pyenv/versions/3.7.16/bin/python3.7",
                                          "/root/.pyenv/versions/2.7.18/bin/python2.7"}) {
        ASSERT_TRUE(std::filesystem::exists(old_python)) << "the pyenv 2.7 and 3.7 builds are part of this machine";
        Child old({old_python, "-c", "import time; print('ready'); import sys; sys.stdout.flush(); time.sleep(60)"});
        ASSERT_TRUE(old.wait_for_output("ready", 30));
        RunResult r = run({binary, "-p", std::to_string(old.pid())});
        expect_error(r, 1, old_python.find("3.7") != std::string::npos ? "CPython 3.7" : "CPython 2.7");
        EXPECT_NE(r.err.find("supported: 3.8, 3.9, 3.10, 3.11, 3.12, 3.13"), std::string::npos) << r.err;
    }
}

TEST(Errors, NotRootNamesTheMissingCapabilities) {
    RunResult r = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                       "--bounding-set=-all", binary, "-p", "1"});
    expect_error(r, 1, "needs root");
    EXPECT_NE(r.err.find("CAP_BPF"), std::string::npos) << r.err;
}

TEST(Errors, UnwritableOutputIsRefusedBeforeAttaching) {
    Workload target({debian_python, workload("cost_split.py")});
    RunResult r = run({binary, "-p", std::to_string(target.pid()), "-o", "/nonexistent-dir/p.svg"});
    expect_error(r, 1, "cannot write /nonexistent-dir/p.svg");
    EXPECT_EQ(r.err.find("tracing"), std::string::npos);
}

TEST(Errors, CommandLineMistakesExitWithTwo) {
    expect_error(run({binary, "-o", "profile.txt"}), 2, "profile.txt");
    expect_error(run({binary, "--format", "pdf", "-o", "x"}), 2, "pdf");
    expect_error(run({binary, "-d", "-5"}), 2, "--duration");
    expect_error(run({binary, "-d", "soon"}), 2, "--duration");
    expect_error(run({binary, "--hz", "0"}), 2, "--hz");
    expect_error(run({binary, "--hz", "fast"}), 2, "--hz");
    expect_error(run({binary, "--clock", "sundial"}), 2, "--clock");
    expect_error(run({binary, "-p", "abc"}), 2, "-p");
    expect_error(run({binary, "-p", "12", "--", "python3"}), 2, "-p");
}

TEST(Errors, HelpTeachesEveryOption) {
    RunResult r = run({binary, "--help"});
    EXPECT_EQ(r.exit_code, 0);
    for (const char* flag : {"--pid", "--duration", "--output", "--format", "--hz", "--clock", "--help", "Examples"})
        EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}
