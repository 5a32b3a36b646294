// Parsing the containers asyncio lists its tasks in, from fakes in this test's memory: a set's
// table (NULL and dummy slots, implausible headers), a WeakSet's weakrefs, the {loop: task} dict
// of running tasks (deleted slots), and 3.14's per-thread task lists (torn cycles end).
#include <gtest/gtest.h>

#include "cpython/python_objects.h"
#include "runtimes/asyncio/awaited_by_description.h"
#include "runtimes/asyncio/task_registry.h"
#include "unit/asyncio/fake_asyncio.h"
#include "unit/asyncio/asyncio_fakes.h"

using namespace pyat;
using namespace pyat::fakes;

namespace {

// A set of 8 slots holding `keys` at slots 1, 3, 4..., plus a dummy (hash -1) at slot 2.
struct FakeSet {
    Blob set, table;
    FakeSet(const AsyncioLayout& a, const std::vector<uint64_t>& keys, uint64_t dummy) {
        table.bytes.assign(8 * 16, 0);
        size_t slot = 1;
        for (uint64_t key : keys) {
            if (slot == 2) slot++;
            table.put<uint64_t>(slot * 16, key);
            table.put<int64_t>(slot * 16 + 8, int64_t(key >> 4));
            slot++;
        }
        table.put<uint64_t>(2 * 16, dummy);
        table.put<int64_t>(2 * 16 + 8, -1);
        set.put<int64_t>(a.set_used, int64_t(keys.size()));
        set.put<int64_t>(a.set_mask, 7);
        set.put<uint64_t>(a.set_table, table.address());
    }
};

TEST(TaskRegistry, SetKeysSkipEmptyAndDummySlots) {
    const AsyncioLayout& a = *find_asyncio_layout(3, 12);
    Blob dummy;
    FakeSet s(a, {0x1000, 0x2000, 0x3000}, dummy.address());
    ProcessMemory memory(getpid());
    EXPECT_EQ(set_keys(memory, a, s.set.address()), (std::vector<uint64_t>{0x1000, 0x2000, 0x3000}));
}

TEST(TaskRegistry, ImplausibleSetHeadersGiveNothing) {
    const AsyncioLayout& a = *find_asyncio_layout(3, 11);
    ProcessMemory memory(getpid());
    Blob dummy;
    FakeSet s(a, {0x1000}, dummy.address());
    s.set.put<int64_t>(a.set_mask, 6);  // mask + 1 not a power of two
    EXPECT_TRUE(set_keys(memory, a, s.set.address()).empty());
    s.set.put<int64_t>(a.set_mask, (int64_t(1) << 40) - 1);  // a table of 16 TiB
    EXPECT_TRUE(set_keys(memory, a, s.set.address()).empty());
    s.set.put<int64_t>(a.set_mask, 7);
    s.set.put<int64_t>(a.set_used, 9);  // more used than slots
    EXPECT_TRUE(set_keys(memory, a, s.set.address()).empty());
    s.set.put<int64_t>(a.set_used, 1);
    s.set.put<uint64_t>(a.set_table, 16);  // unmapped
    EXPECT_TRUE(set_keys(memory, a, s.set.address()).empty());
    EXPECT_TRUE(set_keys(memory, a, 0).empty());
}

TEST(TaskRegistry, WeakrefsGiveTheirReferents) {
    const AsyncioLayout& a = *find_asyncio_layout(3, 9);
    Blob r1, r2, dead;
    r1.put<uint64_t>(a.weakref_object, 0xaaa0);
    r2.put<uint64_t>(a.weakref_object, 0xbbb0);
    ProcessMemory memory(getpid());
    EXPECT_EQ(weakref_referents(memory, a, {r1.address(), dead.address(), 16, r2.address()}),
              (std::vector<uint64_t>{0xaaa0, 0xbbb0}));
}

TEST(TaskRegistry, WeakSetDataThroughBoth) {
    const AsyncioLayout& a = *find_asyncio_layout(3, 13);
    Blob r1, r2, dummy;
    r1.put<uint64_t>(a.weakref_object, 0xaaa0);
    r2.put<uint64_t>(a.weakref_object, 0xbbb0);
    FakeSet s(a, {r1.address(), r2.address()}, dummy.address());
    ProcessMemory memory(getpid());
    EXPECT_EQ(weakref_referents(memory, a, set_keys(memory, a, s.set.address())),
              (std::vector<uint64_t>{0xaaa0, 0xbbb0}));
}

// _current_tasks: a dict with general keys (loops), one entry deleted (its value NULL).
TEST(TaskRegistry, RunningTasksDictSkipsDeletedSlots) {
    for (int minor : {8, 11, 12, 13}) {
        const CpythonLayout& py = *find_cpython_layout(3, minor);
        Blob dict, keys;
        keys.bytes.assign(1024, 0);
        uint64_t entries;
        if (py.dict_layout == DictLayout::log2) {
            keys.put<uint8_t>(py.dictkeys_size, 3);
            keys.put<uint8_t>(py.dictkeys_index_bytes, 3);  // 8 one-byte indices
            keys.put<uint8_t>(py.dictkeys_kind, 0);         // general: {hash, key, value}
            entries = py.dictkeys_indices + 8;
        } else {
            keys.put<int64_t>(py.dictkeys_size, 8);  // 8 one-byte indices
            entries = py.dictkeys_indices + 8;
        }
        keys.put<int64_t>(py.dictkeys_nentries, 3);
        uint64_t kv[3][2] = {{0x10, 0x110}, {0x20, 0}, {0x30, 0x330}};
        for (int i = 0; i < 3; i++) {
            keys.put<int64_t>(entries + 24 * i, 1234 + i);
            keys.put<uint64_t>(entries + 24 * i + 8, kv[i][0]);
            keys.put<uint64_t>(entries + 24 * i + 16, kv[i][1]);
        }
        dict.put<uint64_t>(py.dict_keys, keys.address());
        PythonObjects objects(ProcessMemory(getpid()), py);
        auto items = objects.dict_items(dict.address());
        EXPECT_EQ(items, (std::vector<std::pair<uint64_t, uint64_t>>{{0x10, 0x110}, {0x30, 0x330}})) << minor;
    }
}

// 3.14: struct llist_node {next, prev} in each task at task_node; the head lives in the thread state.
TEST(TaskRegistry, LlistOfTasksEndsAtItsHead) {
    const AsyncioLayout& a = *find_asyncio_layout(3, 14);
    ASSERT_NE(a.task_node, 0);
    Blob head, t1, t2, t3;
    auto node = [&](Blob& t) { return t.address() + a.task_node; };
    head.put<uint64_t>(0, node(t1));
    t1.put<uint64_t>(a.task_node, node(t2));
    t2.put<uint64_t>(a.task_node, node(t3));
    t3.put<uint64_t>(a.task_node, head.address());
    ProcessMemory memory(getpid());
    EXPECT_EQ(llist_tasks(memory, head.address(), a.task_node),
              (std::vector<uint64_t>{t1.address(), t2.address(), t3.address()}));
    // Empty: the head points at itself.
    Blob empty;
    empty.put<uint64_t>(0, empty.address());
    EXPECT_TRUE(llist_tasks(memory, empty.address(), a.task_node).empty());
}

TEST(TaskRegistry, TornLlistsEndToo) {
    const AsyncioLayout& a = *find_asyncio_layout(3, 14);
    Blob head, t1, t2;
    auto node = [&](Blob& t) { return t.address() + a.task_node; };
    head.put<uint64_t>(0, node(t1));
    t1.put<uint64_t>(a.task_node, node(t2));
    t2.put<uint64_t>(a.task_node, node(t1));  // a cycle that misses the head
    ProcessMemory memory(getpid());
    EXPECT_EQ(llist_tasks(memory, head.address(), a.task_node, 100).size(), 100u);
    t2.put<uint64_t>(a.task_node, 16);  // into unmapped memory
    EXPECT_EQ(llist_tasks(memory, head.address(), a.task_node, 100).size(), 2u);
    t2.put<uint64_t>(a.task_node, 0);  // a NULL link
    EXPECT_EQ(llist_tasks(memory, head.address(), a.task_node, 100).size(), 2u);
}

}  // namespace

namespace {

// 3.14: with the .AsyncioDebug section's offsets, the registry lists the native tasks on every
// thread's list and the interpreter's, and each thread's running task (loop 0), once
// asyncio.tasks is imported. (sys.modules' place in 3.14's interpreter state is not in our 3.14
// data: a copy of the layout names one for the fake.)
TEST(TaskRegistry, ThreeFourteenReadsTheThreadListsOnceAsyncioTasksIsImported) {
    CpythonLayout py = *find_cpython_layout(3, 14);
    py.interp_modules = 64;
    const AsyncioLayout& a = *find_asyncio_layout(3, 14);
    const AwaitedByDescription* d = find_awaited_by_description(3, 14);
    ASSERT_TRUE(d);
    FakeAsyncio fake(py, *d);
    AsyncioFakes f(14);
    AsyncioDebugOffsets debug{};
    debug.task_size = 168;
    debug.task_node = a.task_node;
    debug.interp_size = 9000;
    debug.interp_tasks_head = 8000;
    debug.tstate_size = 2048;
    debug.tstate_running_task = 1108;
    debug.tstate_tasks_head = 1116;
    Blob& runtime = f.blob(1024);
    Blob& interp = f.blob(9000);
    Blob& thread = f.blob(2048);
    Blob& t1 = f.blob();
    Blob& t2 = f.blob();
    Blob& t3 = f.blob();
    auto node = [&](Blob& t) { return t.address() + a.task_node; };
    runtime.put<uint64_t>(py.bpf.runtime_interpreters_head, interp.address());
    interp.put<uint64_t>(py.bpf.interp_threads_head, thread.address());
    thread.put<uint64_t>(debug.tstate_tasks_head, node(t1));  // the thread: t1, t2 (running)
    t1.put<uint64_t>(a.task_node, node(t2));
    t2.put<uint64_t>(a.task_node, thread.address() + debug.tstate_tasks_head);
    thread.put<uint64_t>(debug.tstate_running_task, t2.address());
    interp.put<uint64_t>(debug.interp_tasks_head, node(t3));  // a thread that exited left t3
    t3.put<uint64_t>(a.task_node, interp.address() + debug.interp_tasks_head);

    TaskRegistry registry(fake.objects, py, a, runtime.address());
    EXPECT_FALSE(registry.find()) << "no thread lists asked for";
    registry.use_thread_lists(debug);
    EXPECT_FALSE(registry.find()) << "asyncio.tasks is not imported yet";
    const uint64_t module = fake.object(0);
    fake.put<uint64_t>(module, py.module_dict, fake.dict("all_tasks", 0));
    interp.put<uint64_t>(py.interp_modules, fake.dict("asyncio.tasks", module));
    ASSERT_TRUE(registry.find());
    EXPECT_EQ(registry.tasks(), (std::vector<uint64_t>{t3.address(), t1.address(), t2.address()}));
    auto running = registry.running();
    ASSERT_EQ(running.size(), 1u);
    EXPECT_EQ(running[0].task, t2.address());
    EXPECT_EQ(running[0].loop, 0u);
}

}  // namespace
