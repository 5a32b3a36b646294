// CPython 3.14's .AsyncioDebug section (Py_AsyncioModuleDebugOffsets) from bytes: parsing,
// rejecting implausible values, checking probes/asyncio/3.14.conf against it, and listing the
// tasks of each thread's and the interpreter's linked list from a fake _PyRuntime.
#include <gtest/gtest.h>

#include <cstring>

#include "runtimes/asyncio/asyncio_debug.h"
#include "unit/asyncio/asyncio_fakes.h"

using namespace pyat;
using namespace pyat::fakes;

namespace {

// The section as 3.14.0 builds it on x86_64 (TaskObj offsets as in FACTS 8.1; thread-state
// offsets are made up here: only the section gives them).
std::string section(uint64_t task_coro = 128) {
    uint64_t v[13] = {168, 136, 96, 108, 109, task_coro, 152, 200000, 7000, 1200, 1100, 1108, 1116};
    return std::string(reinterpret_cast<const char*>(v), sizeof(v));
}

TEST(AsyncioDebug, ParsesTheSection) {
    auto d = parse_asyncio_debug(section());
    ASSERT_TRUE(d);
    EXPECT_EQ(d->task_size, 168u);
    EXPECT_EQ(d->task_name, 136u);
    EXPECT_EQ(d->task_coro, 128u);
    EXPECT_EQ(d->task_node, 152u);
    EXPECT_EQ(d->interp_tasks_head, 7000u);
    EXPECT_EQ(d->tstate_running_task, 1108u);
    EXPECT_EQ(d->tstate_tasks_head, 1116u);
}

TEST(AsyncioDebug, RejectsShortOrImplausibleSections) {
    EXPECT_FALSE(parse_asyncio_debug(section().substr(0, 100)));
    EXPECT_FALSE(parse_asyncio_debug(section(4096)));  // an offset past sizeof(TaskObj)
    std::string zero(asyncio_debug_bytes, '\0');
    EXPECT_FALSE(parse_asyncio_debug(zero));
}

TEST(AsyncioDebug, OurThreeFourteenDataAgreesWithTheSectionsFields) {
    const AsyncioLayout& l = *find_asyncio_layout(3, 14);
    EXPECT_EQ(check_asyncio_debug(*parse_asyncio_debug(section()), l), "");
    std::string wrong = check_asyncio_debug(*parse_asyncio_debug(section(144)), l);
    EXPECT_NE(wrong.find("task_coro is 144 (ours 128)"), std::string::npos) << wrong;
}

TEST(AsyncioDebug, ListsEveryThreadsTasksAndRunningTask) {
    const CpythonLayout& py = *find_cpython_layout(3, 14);
    AsyncioDebugOffsets d = *parse_asyncio_debug(section());
    AsyncioFakes f(14);
    Blob& runtime = f.blob(1024);
    Blob& interp = f.blob(8192);
    Blob& t1 = f.blob(2048);
    Blob& t2 = f.blob(2048);
    Blob& a = f.blob(), &b = f.blob(), &c = f.blob();
    runtime.put<uint64_t>(py.bpf.runtime_interpreters_head, interp.address());
    interp.put<uint64_t>(py.bpf.interp_threads_head, t1.address());
    t1.put<uint64_t>(py.bpf.tstate_next, t2.address());
    auto node = [&](Blob& task) { return task.address() + d.task_node; };
    // Thread 1: a, b; thread 2: none (its head points at itself); the interpreter: c.
    t1.put<uint64_t>(d.tstate_tasks_head, node(a));
    a.put<uint64_t>(d.task_node, node(b));
    b.put<uint64_t>(d.task_node, t1.address() + d.tstate_tasks_head);
    t1.put<uint64_t>(d.tstate_running_task, b.address());
    t2.put<uint64_t>(d.tstate_tasks_head, t2.address() + d.tstate_tasks_head);
    interp.put<uint64_t>(d.interp_tasks_head, node(c));
    c.put<uint64_t>(d.task_node, interp.address() + d.interp_tasks_head);
    ThreadTasks found = list_thread_tasks(ProcessMemory(getpid()), py, runtime.address(), d);
    EXPECT_EQ(found.tasks, (std::vector<uint64_t>{c.address(), a.address(), b.address()}));
    EXPECT_EQ(found.running, (std::vector<uint64_t>{b.address()}));
}

}  // namespace
