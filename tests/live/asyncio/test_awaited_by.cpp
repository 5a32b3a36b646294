// Live: who awaits each task of a real asyncio program, read from outside on every interpreter
// here. The program (tests/workloads/asyncio/awaited_by.py) parks tasks awaiting each other in
// every way asyncio offers and prints their id()s (their addresses); this test reads their
// callbacks with process_vm_readv and checks the classifier and the graph name the right parents.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "cpython/cpython_layout.h"
#include "cpython/python_objects.h"
#include "live/interpreters.h"
#include "runtimes/asyncio/awaited_by.h"
#include "runtimes/asyncio/task_graph.h"
#include "test_support.h"

using namespace pyat;
using namespace pyat::test;

namespace {

// fut_callback0 and fut_callbacks of the C Future, 3.8-3.14 (FACTS 8.1).
constexpr FutureCallbackOffsets callback_offsets{24, 40};

std::map<std::string, uint64_t> parse_ids(const std::string& out) {
    std::map<std::string, uint64_t> ids;
    auto at = out.find("ids ");
    if (at == std::string::npos) return ids;
    std::istringstream line(out.substr(at + 4, out.find('\n', at) - at - 4));
    std::string item;
    while (line >> item) {
        auto eq = item.find('=');
        if (eq != std::string::npos) ids[item.substr(0, eq)] = std::stoull(item.substr(eq + 1));
    }
    return ids;
}

class AsyncioAwaitedBy : public OnEachInterpreter {};

TEST_P(AsyncioAwaitedBy, EveryWayOfAwaitingNamesItsParent) {
    const Interpreter& py = GetParam();
    int minor = std::stoi(std::string(py.version).substr(2));
    const CpythonLayout* layout = find_cpython_layout(3, minor);
    const AwaitedByDescription* description = find_awaited_by_description(3, minor);
    ASSERT_TRUE(layout && description);

    Workload target({py.path, workload("asyncio/awaited_by.py")});
    auto ids = parse_ids(target.out());
    ASSERT_TRUE(ids.count("gather_future")) << target.out() << target.err();
    for (const char* leaf : {"C", "G1", "G2", "SI", "WI", "XI", "PC"})  // the task ran as itself
        EXPECT_EQ(ids[leaf], ids[std::string(leaf) + "_task"]) << leaf;

    PythonObjects objects(ProcessMemory(target.pid()), *layout);
    AwaitedByReader reader(objects, *layout, *description, callback_offsets);
    // Every awaiter the callbacks of `child` name, with the kinds seen.
    auto awaiters = [&](const std::string& child, std::vector<AwaiterKind>& kinds) {
        std::vector<uint64_t> parents;
        for (uint64_t cb : reader.future_callbacks(ids.at(child))) {
            Awaiter a = reader.classify(cb);
            kinds.push_back(a.kind);
            for (uint64_t p : a.parents) parents.push_back(p);
        }
        return parents;
    };
    struct Expected {
        const char* child;
        const char* parent;
        AwaiterKind kind;
    };
    std::vector<Expected> expected = {
        {"B", "A", AwaiterKind::task_wakeup},   {"C", "B", AwaiterKind::task_wakeup},
        {"G1", "P", AwaiterKind::gather},       {"G2", "P", AwaiterKind::gather},
        {"SI", "SP", AwaiterKind::shield},      {"XI", "XP", AwaiterKind::wait},
        {"PC", "PP", AwaiterKind::task_wakeup},  // a pure-Python task's Task.__wakeup
        // wait_for: partial(_release_waiter, waiter) up to 3.11; from 3.12 it awaits the task itself.
        {"WI", "WP", minor <= 11 ? AwaiterKind::release_waiter : AwaiterKind::task_wakeup},
    };
    if (minor >= 11) {
        expected.push_back({"T1", "T", AwaiterKind::task_group});
        expected.push_back({"T2", "T", AwaiterKind::task_group});
    }
    for (const Expected& e : expected) {
        std::vector<AwaiterKind> kinds;
        auto parents = awaiters(e.child, kinds);
        std::string seen;
        for (AwaiterKind k : kinds) seen += std::string(awaiter_kind_name(k)) + " ";
        EXPECT_EQ(parents, std::vector<uint64_t>{ids.at(e.parent)}) << e.child << " callbacks: " << seen;
        EXPECT_NE(std::find(kinds.begin(), kinds.end(), e.kind), kinds.end())
            << e.child << " wants " << awaiter_kind_name(e.kind) << ", callbacks: " << seen;
    }
    // asyncio.run's main task: run_until_complete's callback, nobody awaiting.
    std::vector<AwaiterKind> main_kinds;
    EXPECT_TRUE(awaiters("main", main_kinds).empty());
    EXPECT_EQ(main_kinds, std::vector<AwaiterKind>{AwaiterKind::run_until_complete});
    // The parents themselves are awaited by nobody (main created them and waits elsewhere).
    std::vector<AwaiterKind> a_kinds;
    EXPECT_TRUE(awaiters("A", a_kinds).empty());

    // Parent side: the _GatheringFuture's children, including G3 that finished (callbacks cleared).
    auto children = reader.gathering_children(ids.at("gather_future"));
    ASSERT_TRUE(children);
    EXPECT_EQ(*children, (std::vector<uint64_t>{ids.at("G1"), ids.at("G2"), ids.at("G3")}));
    EXPECT_TRUE(reader.future_callbacks(ids.at("G3")).empty());
    EXPECT_FALSE(reader.gathering_children(ids.at("A")));

    // The graph over these tasks as a scan would give them (the gather parent's fut_waiter is
    // the _GatheringFuture it awaits).
    std::vector<AsyncioTask> scan;
    for (const char* name : {"main", "A", "B", "C", "P", "G1", "G2", "G3", "SP", "SI", "WP", "WI", "XP", "XI", "PP",
                             "PC"}) {
        AsyncioTask t;
        t.address = ids.at(name);
        t.callbacks = reader.future_callbacks(t.address);
        if (std::string(name) == "P") t.fut_waiter = ids.at("gather_future");
        scan.push_back(t);
    }
    TaskGraph graph(reader);
    graph.update(scan);
    EXPECT_EQ(graph.ancestry(ids.at("C")).tasks, (std::vector<uint64_t>{ids.at("A"), ids.at("B"), ids.at("C")}));
    for (const char* child : {"G1", "G2", "G3"}) {
        ASSERT_EQ(graph.parents(ids.at(child)).size(), 1u) << child;
        EXPECT_EQ(graph.parents(ids.at(child))[0].task, ids.at("P")) << child;
        EXPECT_EQ(graph.parents(ids.at(child))[0].kind, AwaiterKind::gather) << child;
    }
    EXPECT_TRUE(graph.parents(ids.at("main")).empty());
    EXPECT_EQ(graph.update(scan).reread, 0u);  // nothing changed: nothing read again
}

INSTANTIATE_TEST_SUITE_P(Live, AsyncioAwaitedBy, ::testing::ValuesIn(interpreters),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
