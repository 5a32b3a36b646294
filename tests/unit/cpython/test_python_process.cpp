// Recognising real CPython processes from the outside (no BPF): _PyRuntime, version, threads.
#include <gtest/gtest.h>

#include "cpython/builtin_methods.h"
#include "cpython/code_resolver.h"
#include "process/elf_file.h"
#include "base/error.h"
#include "cpython/python_process.h"
#include "cpython/python_stack_reader.h"
#include "process/target_discovery.h"
#include "test_support.h"

using namespace pyat;
using namespace pyat::test;

namespace {

// Resolved function names of the main thread's stack, outermost first.
std::vector<std::string> main_thread_functions_now(const PythonProcess& p) {
    CodeResolver resolver(ProcessMemory(p.pid), *p.layout);
    auto stacks = read_thread_stacks(p, resolver);
    auto it = stacks.find(uint32_t(p.pid));
    if (it == stacks.end()) return {};
    std::vector<std::string> names;
    for (int i = int(it->second->hdr.nframes) - 1; i >= 0; i--)
        names.push_back(*resolver.resolve(it->second->frames[i]).name);
    return names;
}

// The workload prints "ready" just before it calls rounds(): wait until it is inside.
std::vector<std::string> main_thread_functions(const PythonProcess& p) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::vector<std::string> names;
    do {
        names = main_thread_functions_now(p);
        if (names.size() >= 3) break;
    } while (std::chrono::steady_clock::now() < deadline);
    return names;
}

}  // namespace

TEST(PythonProcess, DebianStrippedPython311IsRecognisedFromItsDynamicSymbols) {
    Workload w({debian_python, workload("sleep_split.py")});
    PythonProcess p = inspect_python_process(w.pid());
    EXPECT_EQ(p.version.rfind("3.11.", 0), 0u) << p.version;
    EXPECT_EQ(p.program, "python3.11");
    EXPECT_EQ(p.interpreter, "/usr/bin/python3.11");
    auto symbol = ElfFile::open("/usr/bin/python3.11").find_symbol("_PyRuntime");
    ASSERT_TRUE(symbol.has_value());
    EXPECT_EQ(p.runtime_address, symbol->value);  // non-PIE: the symbol value itself
    EXPECT_NE(p.command_line.find("sleep_split.py"), std::string::npos);
    ASSERT_NE(p.layout, nullptr);
    EXPECT_EQ(p.layout->minor, 11);

    auto names = main_thread_functions(p);
    ASSERT_GE(names.size(), 3u);
    EXPECT_EQ(names[0], "<module>");
    EXPECT_EQ(names[1], "main");
    EXPECT_EQ(names[2], "rounds");
}

TEST(PythonProcess, SharedLibpythonBuildIsFoundThroughItsMappings) {
    const std::string py = "/root/.pyenv/versions/3.11.7/bin/python3.11";
    Workload w({py, workload("sleep_split.py")});
    PythonProcess p = inspect_python_process(w.pid());
    EXPECT_EQ(p.version, "3.11.7");
    EXPECT_NE(p.interpreter.find("libpython3.11"), std::string::npos) << p.interpreter;
    auto names = main_thread_functions(p);
    ASSERT_GE(names.size(), 3u);
    EXPECT_EQ(names[2], "rounds");
}

// Before 3.11 there is no Py_Version: the full version comes from the PY_VERSION string, not
// just "3.10" from the file name.
TEST(PythonProcess, FullVersionOfEveryInterpreter) {
    for (const std::string version : {"3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"}) {
        std::string minor = version.substr(0, version.rfind('.'));
        Workload w({"/root/.pyenv/versions/" + version + "/bin/python" + minor, workload("sleep_split.py")});
        EXPECT_EQ(inspect_python_process(w.pid()).version, version);
    }
    Workload debian({debian_python, workload("sleep_split.py")});
    EXPECT_EQ(inspect_python_process(debian.pid()).version, "3.11.2");
}

TEST(PythonProcess, RefusalsSayWhatWasFound) {
    try {
        inspect_python_process(getpid());
        FAIL() << "the test binary is not CPython";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("is not a CPython process"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(read_executable(getpid())), std::string::npos) << e.what();
    }
    EXPECT_FALSE(try_inspect_python_process(4194304).has_value());
    EXPECT_FALSE(process_exists(4194304));
    EXPECT_TRUE(process_exists(getpid()));
}

TEST(TargetDiscovery, ParentChainDecidesWhatIsADescendant) {
    Child child({"sleep", "30"});
    EXPECT_EQ(parent_of(child.pid()), getpid());
    EXPECT_EQ(parent_of(4194304), 0);
}

TEST(TargetDiscovery, FindsCPythonDescendantsOnly) {
    Workload py({debian_python, workload("sleep_split.py")});
    Child other({"sleep", "30"});
    TargetDiscovery d(TargetDiscovery::Scope::descendants, getpid(), getpid());
    auto found = d.poll([](pid_t) { return false; });
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].process.pid, py.pid());
    EXPECT_FALSE(found[0].at_exec);  // found by the /proc scan
}

TEST(EmulatedProbeOffset, SkipsToTheFirstInstructionTheKernelEmulates) {
    // Debian python3.11's gen_send: xor ecx,ecx; xor edx,edx; jmp gen_send_ex
    EXPECT_EQ(pyat::emulated_probe_offset({0x31, 0xc9, 0x31, 0xd2, 0xe9, 0xd7, 0x6b, 0xfa, 0xff}), 4u);
    // its gen_throw: lea -0x1(%rdx),%rax; push %rbp
    EXPECT_EQ(pyat::emulated_probe_offset({0x48, 0x8d, 0x42, 0xff, 0x55, 0x48, 0x89, 0xfd}), 4u);
    // context_run: push %r14 first
    EXPECT_EQ(pyat::emulated_probe_offset({0x41, 0x56, 0x41, 0x55}), 0u);
    // xor edi,edi would change an argument: probe the entry instead.
    EXPECT_EQ(pyat::emulated_probe_offset({0x31, 0xff, 0x55}), 0u);
    // mov %rsi,%rdi likewise; an unknown instruction stops the scan.
    EXPECT_EQ(pyat::emulated_probe_offset({0x48, 0x89, 0xf7, 0x55}), 0u);
    EXPECT_EQ(pyat::emulated_probe_offset({0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55}), 0u);
}
