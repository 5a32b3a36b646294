// The USDT facts under probes/cpython/usdt/: one per layout, and true of the interpreters here.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "cpython/cpython_layout.h"
#include "cpython/cpython_usdt.h"

namespace pyat {
namespace {

std::string output_of(const std::string& command) {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    std::string out;
    char buf[256];
    while (pipe && fgets(buf, sizeof(buf), pipe.get())) out += buf;
    return out;
}

TEST(CpythonUsdt, EveryDescribedVersionSaysWhatItsProbesDo) {
    for (const auto& layout : known_cpython_layouts())
        EXPECT_NE(find_cpython_usdt(layout.major, layout.minor), nullptr) << layout.version();
    EXPECT_EQ(find_cpython_usdt(3, 7), nullptr);
    const CpythonUsdt* u311 = find_cpython_usdt(3, 11);
    ASSERT_NE(u311, nullptr);
    EXPECT_EQ(u311->function_probes, FunctionProbes::return_only);
    EXPECT_EQ(find_cpython_usdt(3, 10)->function_probes, FunctionProbes::entry_and_return);
    EXPECT_EQ(versions_without_function_probes(), "3.12 to 3.14");
}

TEST(CpythonUsdt, YieldValueOpcodesAreTheInterpretersOwn) {
    const std::pair<int, std::string> interpreters[] = {
        {8, "/root/.pyenv/versions/3.8.18/bin/python3.8"},   {9, "/root/.pyenv/versions/3.9.18/bin/python3.9"},
        {10, "/root/.pyenv/versions/3.10.13/bin/python3.10"}, {11, "/usr/bin/python3.11"}};
    for (const auto& [minor, path] : interpreters) {
        const CpythonUsdt* u = find_cpython_usdt(3, minor);
        ASSERT_NE(u, nullptr);
        std::string opcode = output_of(path + " -c \"import opcode; print(opcode.opmap['YIELD_VALUE'])\"");
        EXPECT_EQ(opcode, std::to_string(u->yield_value_opcode) + "\n") << path;
    }
}

}  // namespace
}  // namespace pyat
