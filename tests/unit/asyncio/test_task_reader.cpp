// Reading a whole C task at each version's offsets from fakes in this test's memory: fields, the
// lazy name (3.12+: an int until get_name()), callbacks, the await chain through coroutines and a
// FutureIter to each kind of leaf, the depth cap, torn tasks, the unchanged-task check, the
// attach-time self-check.
#include <gtest/gtest.h>

#include "cpython/code_resolver.h"
#include "runtimes/asyncio/asyncio_layout.h"
#include "runtimes/asyncio/task_reader.h"
#include "unit/asyncio/asyncio_fakes.h"
#include "unit/asyncio/fake_coroutines.h"

using namespace pyat;
using namespace pyat::fakes;

namespace {

struct FakeTask {
    AsyncioFakes f;
    FakeCoroutines coros{f};
    uint64_t task_type, future_type, gathering_type, iter_type;
    Blob* task = nullptr;
    Blob* list = nullptr;
    Blob* items = nullptr;
    FakeCoroutine* outer = nullptr;
    FakeCoroutine* inner = nullptr;
    uint64_t future = 0, iter = 0, callback0 = 0, callback1 = 0;

    explicit FakeTask(int minor, bool str_name = false) : f(minor) {
        task_type = f.type(f.aio.task_type);
        future_type = f.type(f.aio.future_type);
        gathering_type = f.type(f.aio.gathering_future_type, future_type);
        iter_type = f.type(f.aio.future_iter_type);
        future = f.object(future_type).address();
        Blob& it = f.object(iter_type);
        it.put<uint64_t>(f.aio.futureiter_future, future);
        iter = it.address();
        // outer_fn -> inner_fn -> FutureIter(future)
        inner = &coros.make(CoroState::at_await, iter, "inner_fn");
        outer = &coros.make(CoroState::at_await, inner->gen, "outer_fn");
        task = &f.object(task_type);
        const auto& a = f.aio;
        task->put<int32_t>(a.fut_state, 0);
        task->put<uint64_t>(a.task_fut_waiter, future);
        task->put<uint64_t>(a.task_coro, outer->gen);
        task->put<uint64_t>(a.task_name, str_name || !a.task_name_lazy ? f.str("poller-2") : f.small_int(7));
        callback0 = f.object(f.type("builtin_function_or_method")).address();
        callback1 = f.object(f.type("function")).address();
        task->put<uint64_t>(a.fut_callback0, callback0);
        // fut_callbacks: a list of one (callback, context) tuple.
        Blob& pair = f.object(f.type("tuple"));
        pair.put<uint64_t>(f.py.tuple_items, callback1);
        items = &f.blob();
        items->put<uint64_t>(0, pair.address());
        list = &f.object(f.type("list"));
        list->put<int64_t>(f.py.list_size, 1);
        list->put<uint64_t>(f.py.list_items, items->address());
        task->put<uint64_t>(a.fut_callbacks, list->address());
    }
    uint64_t address() const { return task->address(); }
};

class TaskReading : public ::testing::TestWithParam<int> {};

TEST_P(TaskReading, FieldsNameCallbacksAndTheAwaitChainToAFuture) {
    FakeTask t(GetParam());
    CodeResolver resolver(ProcessMemory(getpid()), t.f.py);
    TaskReader reader(ProcessMemory(getpid()), t.f.py, t.f.aio, resolver);
    auto task = reader.read(t.address());
    ASSERT_TRUE(task);
    EXPECT_EQ(task->state, TaskState::pending);
    EXPECT_EQ(task->coro, t.outer->gen);
    EXPECT_EQ(task->coro_frame, t.outer->frame);
    EXPECT_EQ(task->fut_waiter, t.future);
    EXPECT_EQ(task->name, t.f.aio.task_name_lazy ? "Task-7" : "poller-2");
    EXPECT_EQ(task->coro_function, "outer_fn");
    EXPECT_EQ(task->callbacks, (std::vector<uint64_t>{t.callback0, t.callback1}));
    ASSERT_EQ(task->await_frames.size(), 2u);
    EXPECT_EQ(task->await_frames[0].code, t.outer->code->code.address());
    EXPECT_EQ(task->await_frames[1].code, t.inner->code->code.address());
    EXPECT_EQ(task->await_frames[1].instr, FakeCoroutines::instr_offset);
    EXPECT_EQ(*resolver.resolve(task->await_frames[0]).file, "demo.py");  // named when read
    EXPECT_EQ(task->leaf, AwaitLeaf::future);
    EXPECT_EQ(task->leaf_object, t.future);
}

TEST_P(TaskReading, ANamedTaskKeepsItsStr) {
    FakeTask t(GetParam(), true);
    CodeResolver resolver(ProcessMemory(getpid()), t.f.py);
    TaskReader reader(ProcessMemory(getpid()), t.f.py, t.f.aio, resolver);
    EXPECT_EQ(reader.read(t.address())->name, "poller-2");
}

TEST_P(TaskReading, LeafKinds) {
    FakeTask t(GetParam());
    CodeResolver resolver(ProcessMemory(getpid()), t.f.py);
    TaskReader reader(ProcessMemory(getpid()), t.f.py, t.f.aio, resolver);
    auto awaiting = [&](uint64_t object) {
        FakeCoroutine& c = t.coros.make(CoroState::at_await, object, "awaiting");
        t.task->put<uint64_t>(t.f.aio.task_coro, c.gen);
        return *reader.read(t.address());
    };
    // A FutureIter of a _GatheringFuture (a subclass of Future): gathering.
    uint64_t gathering = t.f.object(t.gathering_type).address();
    Blob& gathering_iter = t.f.object(t.iter_type);
    gathering_iter.put<uint64_t>(t.f.aio.futureiter_future, gathering);
    auto g = awaiting(gathering_iter.address());
    EXPECT_EQ(g.leaf, AwaitLeaf::gathering);
    EXPECT_EQ(g.leaf_object, gathering);
    // Another task, of a Python subclass of the C Task.
    uint64_t subclass = t.f.type("MyTask", t.task_type);
    uint64_t other_task = t.f.object(subclass).address();
    auto k = awaiting(other_task);
    EXPECT_EQ(k.leaf, AwaitLeaf::task);
    EXPECT_EQ(k.leaf_object, other_task);
    // Something else awaitable.
    uint64_t custom = t.f.object(t.f.type("Custom")).address();
    auto o = awaiting(custom);
    EXPECT_EQ(o.leaf, AwaitLeaf::other);
    EXPECT_EQ(o.leaf_object, custom);
    EXPECT_EQ(o.await_frames.size(), 1u);
}

TEST_P(TaskReading, APlainYieldEndsTheChainAtTheTasksOwnWaiter) {
    FakeTask t(GetParam());
    CodeResolver resolver(ProcessMemory(getpid()), t.f.py);
    TaskReader reader(ProcessMemory(getpid()), t.f.py, t.f.aio, resolver);
    FakeCoroutine& c = t.coros.make(CoroState::at_yield, 0x1234, "py_future_await");
    t.task->put<uint64_t>(t.f.aio.task_coro, c.gen);
    auto task = reader.read(t.address());
    EXPECT_EQ(task->await_frames.size(), 1u);
    EXPECT_EQ(task->leaf, AwaitLeaf::future);
    EXPECT_EQ(task->leaf_object, t.future);
    // Not waiting on anything (asyncio.sleep(0)): ready to run, no leaf.
    t.task->put<uint64_t>(t.f.aio.task_fut_waiter, 0);
    EXPECT_EQ(reader.read(t.address())->leaf, AwaitLeaf::none);
}

TEST_P(TaskReading, ACycleStopsAtTheDepthCap) {
    FakeTask t(GetParam());
    CodeResolver resolver(ProcessMemory(getpid()), t.f.py);
    TaskReader reader(ProcessMemory(getpid()), t.f.py, t.f.aio, resolver);
    FakeCoroutine& c = t.coros.make(CoroState::at_await, 0, "self_awaiting");
    t.coros.set_top(c, c.gen);  // torn memory: a coroutine awaiting itself
    t.task->put<uint64_t>(t.f.aio.task_coro, c.gen);
    auto task = reader.read(t.address());
    ASSERT_TRUE(task);
    EXPECT_EQ(task->await_frames.size(), size_t(max_await_depth));
}

TEST_P(TaskReading, RunningAndDoneTasksHaveNoChain) {
    FakeTask t(GetParam());
    CodeResolver resolver(ProcessMemory(getpid()), t.f.py);
    TaskReader reader(ProcessMemory(getpid()), t.f.py, t.f.aio, resolver);
    FakeCoroutine& running = t.coros.make(CoroState::running, 0, "spin");
    t.task->put<uint64_t>(t.f.aio.task_coro, running.gen);
    t.task->put<uint64_t>(t.f.aio.task_fut_waiter, 0);
    auto r = reader.read(t.address());
    EXPECT_TRUE(r->await_frames.empty());
    EXPECT_EQ(r->leaf, AwaitLeaf::none);
    t.task->put<uint64_t>(t.f.aio.task_coro, t.outer->gen);
    t.task->put<int32_t>(t.f.aio.fut_state, 2);
    auto d = reader.read(t.address());
    EXPECT_EQ(d->state, TaskState::finished);
    EXPECT_TRUE(d->await_frames.empty());
}

TEST_P(TaskReading, TornTasksAreNotRead) {
    FakeTask t(GetParam());
    CodeResolver resolver(ProcessMemory(getpid()), t.f.py);
    TaskReader reader(ProcessMemory(getpid()), t.f.py, t.f.aio, resolver);
    t.task->put<int32_t>(t.f.aio.fut_state, 9);
    EXPECT_FALSE(reader.read(t.address()));
    EXPECT_FALSE(reader.read(t.future));  // a Future, not a task
    EXPECT_FALSE(reader.read(0));
    EXPECT_FALSE(reader.read(16));  // unmapped
}

TEST_P(TaskReading, TheUnchangedCheckSeesEveryMove) {
    FakeTask t(GetParam());
    CodeResolver resolver(ProcessMemory(getpid()), t.f.py);
    TaskReader reader(ProcessMemory(getpid()), t.f.py, t.f.aio, resolver);
    TaskSnapshot snapshot;
    ASSERT_TRUE(reader.read(t.address(), &snapshot));
    EXPECT_FALSE(reader.changed(snapshot));
    EXPECT_FALSE(reader.changed(snapshot));
    const auto& py = t.f.py;
    const auto& a = t.f.aio;
    // The innermost coroutine moves on (its instruction), then back.
    auto instr_blob = [&](FakeCoroutine& c) -> std::pair<Blob*, size_t> {
        if (py.gen_frame_embedded) return {c.gen_blob, py.gen_frame + py.bpf.frame_instr};
        return {c.frame_blob, py.bpf.frame_instr};
    };
    for (FakeCoroutine* c : {t.inner, t.outer}) {
        auto [blob, at] = instr_blob(*c);
        std::vector<uint8_t> saved(blob->bytes.begin() + at, blob->bytes.begin() + at + 4);
        blob->put<int32_t>(at, int32_t(saved[0]) + 2);
        EXPECT_TRUE(reader.changed(snapshot));
        std::copy(saved.begin(), saved.end(), blob->bytes.begin() + at);
        EXPECT_FALSE(reader.changed(snapshot));
    }
    // A callback added to the list in place.
    t.list->put<int64_t>(py.list_size, 2);
    EXPECT_TRUE(reader.changed(snapshot));
    t.list->put<int64_t>(py.list_size, 1);
    EXPECT_FALSE(reader.changed(snapshot));
    // A new waiter; a name given (get_name() / set_name()).
    t.task->put<uint64_t>(a.task_fut_waiter, 0);
    EXPECT_TRUE(reader.changed(snapshot));
    t.task->put<uint64_t>(a.task_fut_waiter, t.future);
    t.task->put<uint64_t>(a.task_name, t.f.str("renamed"));
    EXPECT_TRUE(reader.changed(snapshot));
    EXPECT_TRUE(reader.changed(TaskSnapshot{}));
}

TEST_P(TaskReading, TheSelfCheckNamesWhatIsWrong) {
    FakeTask t(GetParam());
    PythonObjects objects(ProcessMemory(getpid()), t.f.py);
    EXPECT_EQ(check_asyncio_layout(objects, t.f.py, t.f.aio, t.address()), "");
    std::string not_task = check_asyncio_layout(objects, t.f.py, t.f.aio, t.future);
    EXPECT_NE(not_task.find("'_asyncio.Future', not a task"), std::string::npos) << not_task;
    t.task->put<uint64_t>(t.f.aio.task_coro, t.future);
    std::string not_coro = check_asyncio_layout(objects, t.f.py, t.f.aio, t.address());
    EXPECT_NE(not_coro.find("not a coroutine"), std::string::npos) << not_coro;
}

INSTANTIATE_TEST_SUITE_P(Versions, TaskReading, ::testing::Values(8, 9, 10, 11, 12, 13, 14),
                         [](const auto& info) { return "Py3" + std::to_string(info.param); });

TEST(AsyncioLayouts, EveryVersionFrom38To314IsDescribed) {
    for (int minor = 8; minor <= 14; minor++) {
        const AsyncioLayout* l = find_asyncio_layout(3, minor);
        ASSERT_NE(l, nullptr) << minor;
        EXPECT_NE(l->task_coro, 0) << minor;
        EXPECT_STREQ(l->tasks_module, "asyncio.tasks");
        EXPECT_STREQ(l->task_type, "_asyncio.Task");
        // Each version lists its tasks somewhere: a registry object, or 3.14's per-thread lists.
        EXPECT_TRUE(*l->all_tasks || (*l->scheduled_tasks && *l->eager_tasks) || l->task_node) << minor;
    }
    EXPECT_EQ(find_asyncio_layout(3, 7), nullptr);
    EXPECT_EQ(find_asyncio_layout(3, 12)->task_name_lazy, 1);
    EXPECT_EQ(find_asyncio_layout(3, 11)->task_name_lazy, 0);
}

}  // namespace
