// The asyncio task registry and reader on a real asyncio program on every interpreter here
// (asyncio_tasks.py): read from this test process through process_vm_readv, as the tracer reads
// a target. No BPF. Checks every task found, names (3.12+: lazy ones too), await chains' functions,
// leaf kinds and objects, the running task of a second loop, and the unchanged-task check; prints
// the measured cost of a check and of a re-walk.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "cpython/code_resolver.h"
#include "cpython/python_objects.h"
#include "cpython/python_process.h"
#include "live/interpreters.h"
#include "runtimes/asyncio/asyncio_layout.h"
#include "runtimes/asyncio/task_reader.h"
#include "runtimes/asyncio/task_registry.h"
#include "test_support.h"

using namespace pyat;

namespace {

std::map<std::string, uint64_t> expected_tasks(const std::string& out) {
    std::map<std::string, uint64_t> tasks;
    std::istringstream lines(out);
    std::string name, address;
    while (lines >> name && name != "ready" && lines >> address) tasks[name] = std::stoull(address, nullptr, 16);
    return tasks;
}

std::vector<std::string> chain_names(CodeResolver& resolver, const AsyncioTask& task) {
    std::vector<std::string> names;
    for (const auto& frame : task.await_frames) {
        std::string name = *resolver.resolve(frame).name;
        // Before 3.11 code objects carry no qualified name: compare the last component.
        if (auto dot = name.rfind('.'); dot != std::string::npos) name = name.substr(dot + 1);
        names.push_back(name);
    }
    return names;
}

using Names = std::vector<std::string>;

class AsyncioTaskReader : public OnEachInterpreter {};

TEST_P(AsyncioTaskReader, FindsEveryTaskWithItsNameAwaitChainAndLeaf) {
    test::Child target({GetParam().path, test::source_dir + "/tests/live/asyncio/asyncio_tasks.py"});
    ASSERT_TRUE(target.wait_for_output("ready\n", 60)) << target.out() << target.err();
    auto expected = expected_tasks(target.out());
    ASSERT_EQ(expected.size(), 10u) << target.out();

    PythonProcess process = inspect_python_process(target.pid());
    const AsyncioLayout* layout = find_asyncio_layout(process.layout->major, process.layout->minor);
    ASSERT_NE(layout, nullptr);
    ProcessMemory memory(target.pid());
    PythonObjects objects(memory, *process.layout);
    TaskRegistry registry(objects, *process.layout, *layout, process.runtime_address);
    ASSERT_TRUE(registry.find()) << "asyncio.tasks registries not found";
    EXPECT_NE(registry.py_task_class(), 0u);

    CodeResolver resolver(memory, *process.layout);
    TaskReader reader(memory, *process.layout, *layout, resolver, registry.py_task_class());
    std::map<uint64_t, AsyncioTask> tasks;
    std::map<uint64_t, TaskSnapshot> snapshots;
    for (uint64_t address : registry.tasks()) {
        EXPECT_EQ(check_asyncio_layout(objects, *process.layout, *layout, address, registry.py_task_class()), "");
        TaskSnapshot snapshot;
        if (auto task = reader.read(address, &snapshot)) {
            tasks[address] = *task;
            snapshots[address] = snapshot;
        }
    }
    // Exactly the program's tasks (main's and the spinner's included), nothing else.
    std::set<uint64_t> want, got;
    for (const auto& [name, address] : expected) want.insert(address);
    for (const auto& [address, task] : tasks) got.insert(address);
    EXPECT_EQ(got, want);

    auto task = [&](const std::string& name) -> const AsyncioTask& {
        static const AsyncioTask missing;
        auto it = tasks.find(expected[name]);
        return it == tasks.end() ? missing : it->second;
    };
    for (const char* name : {"child-1", "child-2", "parent", "waiter", "target", "awaiter", "pytask", "spinner"})
        EXPECT_EQ(task(name).name, name);
    // Unnamed: Task-<n> (on 3.12+ never asked its name, so still the int counter in memory).
    EXPECT_TRUE(std::regex_match(task("anon").name, std::regex("Task-[0-9]+"))) << task("anon").name;
    EXPECT_TRUE(std::regex_match(task("main").name, std::regex("Task-[0-9]+"))) << task("main").name;

    std::map<std::string, std::string> functions = {
        {"child-1", "child"}, {"child-2", "child"}, {"parent", "parent"}, {"waiter", "waiter"},
        {"target", "target_fn"}, {"awaiter", "awaiter"}, {"anon", "anon"}, {"main", "main"}, {"spinner", "spinner"},
        {"pytask", "py_sleeper"}};
    for (const auto& [name, function] : functions) {
        EXPECT_EQ(task(name).coro_function, function) << name;
        EXPECT_EQ(task(name).state, TaskState::pending) << name;
        EXPECT_NE(task(name).coro_frame, 0u) << name;
    }

    for (const char* name : {"child-1", "child-2"}) {
        EXPECT_EQ(chain_names(resolver, task(name)), (Names{"child", "mid", "leaf_sleep", "sleep"})) << name;
        EXPECT_EQ(task(name).leaf, AwaitLeaf::future) << name;
        EXPECT_EQ(task(name).leaf_object, task(name).fut_waiter) << name;
        EXPECT_EQ(task(name).callbacks.size(), 1u) << name;  // gather's _done_callback
    }
    EXPECT_EQ(chain_names(resolver, task("parent")), (Names{"parent"}));
    EXPECT_EQ(task("parent").leaf, AwaitLeaf::gathering);
    EXPECT_EQ(task("parent").leaf_object, task("parent").fut_waiter);
    EXPECT_EQ(chain_names(resolver, task("waiter")), (Names{"waiter", "wait"}));
    EXPECT_EQ(task("waiter").leaf, AwaitLeaf::future);
    EXPECT_EQ(chain_names(resolver, task("target")), (Names{"target_fn", "sleep"}));
    EXPECT_EQ(task("target").leaf, AwaitLeaf::future);
    EXPECT_EQ(task("target").callbacks.size(), 1u);  // the awaiter's wakeup
    EXPECT_EQ(chain_names(resolver, task("awaiter")), (Names{"awaiter"}));
    EXPECT_EQ(task("awaiter").leaf, AwaitLeaf::task);
    EXPECT_EQ(task("awaiter").leaf_object, expected["target"]);
    EXPECT_EQ(chain_names(resolver, task("anon")), (Names{"anon", "sleep"}));
    EXPECT_EQ(task("anon").leaf, AwaitLeaf::future);
    EXPECT_EQ(chain_names(resolver, task("pytask")), (Names{"py_sleeper", "sleep"}));
    EXPECT_EQ(task("pytask").leaf, AwaitLeaf::future);
    EXPECT_EQ(task("pytask").leaf_object, task("pytask").fut_waiter);
    EXPECT_NE(task("pytask").fut_waiter, 0u);
    // The spinner runs: no await chain; it is its loop's current task.
    EXPECT_TRUE(task("spinner").await_frames.empty());
    EXPECT_EQ(task("spinner").leaf, AwaitLeaf::none);
    EXPECT_EQ(task("spinner").fut_waiter, 0u);
    bool spinner_running = false;
    for (const auto& running : registry.running()) spinner_running |= running.task == expected["spinner"];
    EXPECT_TRUE(spinner_running);

    // Parked tasks have not moved since they were read.
    const std::vector<std::string> parked = {"child-1", "child-2", "parent", "waiter", "target", "awaiter", "anon"};
    EXPECT_FALSE(reader.changed(snapshots[expected["pytask"]]));
    for (const auto& name : parked) EXPECT_FALSE(reader.changed(snapshots[expected[name]])) << name;

    // Costs (printed, not asserted: the host is shared).
    constexpr int rounds = 300;
    auto start = std::chrono::steady_clock::now();
    int changed = 0;
    for (int i = 0; i < rounds; i++)
        for (const auto& name : parked) changed += reader.changed(snapshots[expected[name]]);
    double check_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
                      (rounds * parked.size());
    EXPECT_EQ(changed, 0);
    start = std::chrono::steady_clock::now();
    size_t frames = 0;
    for (int i = 0; i < rounds; i++)
        for (const auto& name : parked)
            if (auto t = reader.read(expected[name])) frames += t->await_frames.size();
    double read_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
                     (rounds * parked.size());
    std::cout << GetParam().name << ": " << check_us << " us per unchanged-task check, " << read_us
              << " us per task read and re-walked (" << double(frames) / (rounds * parked.size())
              << " frames per chain)\n";
}

INSTANTIATE_TEST_SUITE_P(Interpreters, AsyncioTaskReader, ::testing::ValuesIn(interpreters),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
