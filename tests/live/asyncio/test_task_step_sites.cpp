// --asyncio-steps' probe sites in every interpreter's real _asyncio extension (no process, no BPF):
// the symbol where there is one (pyenv builds), and the symbol-free route through the module's
// static tables (Debian's stripped module), checked against the symbols where both exist.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "cpython/cpython_layout.h"
#include "live/interpreters.h"
#include "process/elf_file.h"
#include "runtimes/asyncio/asyncio_layout.h"
#include "runtimes/asyncio/task_step_sites.h"

using namespace pyat;

namespace {

class TaskStepSitesOf : public OnEachInterpreter {
protected:
    // The interpreter's _asyncio extension.
    std::string module_path() const {
        const std::string prefix = *GetParam().prefix ? GetParam().prefix : "/usr";
        const std::string dir = prefix + "/lib/python" + GetParam().version + "/lib-dynload";
        for (const auto& e : std::filesystem::directory_iterator(dir))
            if (e.path().filename().string().rfind("_asyncio.", 0) == 0) return e.path();
        return "";
    }
    int minor() const { return std::stoi(std::string(GetParam().version).substr(2)); }
};

// Where a site's offset points: at most a few emulated-instruction skips past `function`.
bool lands_in(const ElfFile& elf, uint64_t offset, uint64_t function_vaddr) {
    auto start = elf.file_offset(function_vaddr);
    return start && offset >= *start && offset < *start + 16;
}

}  // namespace

TEST_P(TaskStepSitesOf, SymbolOrStaticTablesNameWhereEachStepBegins) {
    const std::string path = module_path();
    ASSERT_FALSE(path.empty()) << "no _asyncio extension for " << GetParam().path;
    const ElfFile elf = ElfFile::open(path);
    const CpythonLayout* cpython = find_cpython_layout(3, minor());
    const AsyncioLayout* asyncio = find_asyncio_layout(3, minor());
    ASSERT_TRUE(cpython && asyncio);
    std::string why;
    auto sites = task_step_sites(elf, *cpython, *asyncio, why);
    ASSERT_FALSE(sites.empty()) << why;
    if (auto symbol = elf.find_symbol("task_step_impl")) {
        ASSERT_EQ(sites.size(), 1u);
        EXPECT_EQ(sites[0].function, "task_step_impl");
        EXPECT_STREQ(sites[0].program, minor() >= 12 ? "on_task_step_task_second" : "on_task_step_task_first");
        EXPECT_TRUE(lands_in(elf, sites[0].offset, symbol->value));
    } else {
        // Debian's stripped module: the step wrapper's call and the wakeup, both.
        ASSERT_EQ(sites.size(), 2u) << why;
        EXPECT_EQ(sites[0].function, "TaskStepMethWrapper's tp_call");
        EXPECT_STREQ(sites[0].program, "on_task_step_wrapped");
        EXPECT_EQ(sites[1].function, "task_wakeup");
        EXPECT_STREQ(sites[1].program, "on_task_step_task_first");
    }
}

// The symbol-free route, on modules that have the symbols to check it by (pyenv 3.8-3.11: static
// types): the functions it finds are TaskStepMethWrapper_call and the wakeup (task_wakeup from
// 3.10, TaskWakeupMethWrapper_call before).
class StaticTablesOf : public TaskStepSitesOf {};

TEST_P(StaticTablesOf, LeadToTheFunctionsTheSymbolsName) {
    const ElfFile elf = ElfFile::open(module_path());
    auto wrapper = elf.find_symbol("TaskStepMethWrapper_call");
    ASSERT_TRUE(wrapper) << module_path() << ": a pyenv build keeps its symbols";
    AsyncioLayout layout = *find_asyncio_layout(3, minor());
    layout.step_function = "";  // as if stripped
    std::string why;
    auto sites = task_step_sites(elf, *find_cpython_layout(3, minor()), layout, why);
    ASSERT_EQ(sites.size(), 2u) << why;
    EXPECT_TRUE(lands_in(elf, sites[0].offset, wrapper->value)) << sites[0].function;
    auto wakeup = elf.find_symbol(minor() >= 10 ? "task_wakeup" : "TaskWakeupMethWrapper_call");
    ASSERT_TRUE(wakeup);
    EXPECT_TRUE(lands_in(elf, sites[1].offset, wakeup->value)) << sites[1].function;
    EXPECT_STREQ(sites[1].program, minor() >= 10 ? "on_task_step_task_first" : "on_task_step_wrapped");
}

INSTANTIATE_TEST_SUITE_P(Live, TaskStepSitesOf, ::testing::ValuesIn(interpreters),
                         [](const auto& info) { return std::string(info.param.name); });
// The pyenv builds 3.8-3.11 (3.12+ make heap types: the symbol is their only route).
INSTANTIATE_TEST_SUITE_P(Live, StaticTablesOf,
                         ::testing::Values(interpreters[1], interpreters[2], interpreters[3], interpreters[4]),
                         [](const auto& info) { return std::string(info.param.name); });
