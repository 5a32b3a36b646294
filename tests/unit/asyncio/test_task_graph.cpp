// The awaited-by graph from scans of tasks whose callbacks are real object images (3.11 and 3.8
// layouts): chains, gathers (child side and parent side), TaskGroups, diamonds, cycles, missing
// parents, the depth bound, and what a rescan re-reads.
#include <gtest/gtest.h>

#include "runtimes/asyncio/task_graph.h"
#include "unit/asyncio/fake_asyncio.h"

namespace pyat {
namespace {

using fakes::FakeAsyncio;

class Graph : public ::testing::TestWithParam<int> {
protected:
    void SetUp() override {
        layout = find_cpython_layout(3, GetParam());
        description = find_awaited_by_description(3, GetParam());
        ASSERT_NE(layout, nullptr);
        ASSERT_NE(description, nullptr);
        fake = std::make_unique<FakeAsyncio>(*layout, *description);
        reader = std::make_unique<AwaitedByReader>(fake->objects, *layout, *description, fakes::future_offsets);
        graph = std::make_unique<TaskGraph>(*reader);
    }
    // A task in the scan: its object (a C task image) and the record a reader would fill.
    AsyncioTask& add_task() {
        AsyncioTask t;
        t.address = fake->task();
        scan.push_back(t);
        return scan.back();
    }
    void set_callbacks(AsyncioTask& t, const std::vector<uint64_t>& callbacks) {
        t.callbacks = callbacks;
        fake->set_callbacks(t.address, callbacks);
    }
    uint64_t gather_callback(uint64_t outer) {
        uint64_t code = fake->code("_done_callback", "/usr/lib/python3/asyncio/tasks.py", {"nfinished", "outer"});
        return fake->function(code, {0, outer});
    }
    uint64_t gathering(const std::vector<uint64_t>& children, const std::vector<uint64_t>& callbacks) {
        uint64_t f = fake->future(callbacks, fake->gathering_type);
        fake->set_attribute(f, fake->gathering_type, "_children", fake->list(children));
        return f;
    }
    std::vector<uint64_t> parent_tasks(uint64_t task) const {
        std::vector<uint64_t> out;
        for (const auto& p : graph->parents(task)) out.push_back(p.task);
        return out;
    }
    const CpythonLayout* layout = nullptr;
    const AwaitedByDescription* description = nullptr;
    std::unique_ptr<FakeAsyncio> fake;
    std::unique_ptr<AwaitedByReader> reader;
    std::unique_ptr<TaskGraph> graph;
    std::deque<AsyncioTask> scan;  // stable references while tests add tasks
    std::vector<AsyncioTask> scanned() const { return {scan.begin(), scan.end()}; }
};

TEST_P(Graph, ChainReadsRootFirst) {
    AsyncioTask &a = add_task(), &b = add_task(), &c = add_task();
    set_callbacks(a, {fake->function(fake->code("_run_until_complete_cb", "/x/asyncio/base_events.py"))});
    set_callbacks(b, {fake->wakeup(a.address)});
    set_callbacks(c, {fake->wakeup(b.address)});
    graph->update(scanned());
    TaskAncestry chain = graph->ancestry(c.address);
    EXPECT_EQ(chain.tasks, (std::vector<uint64_t>{a.address, b.address, c.address}));
    EXPECT_EQ(chain.cut, TaskAncestry::Cut::none);
    EXPECT_EQ(graph->ancestry(a.address).tasks, std::vector<uint64_t>{a.address});
    ASSERT_EQ(graph->parents(c.address).size(), 1u);
    EXPECT_EQ(graph->parents(c.address)[0].kind, AwaiterKind::task_wakeup);
}

TEST_P(Graph, GatherChildrenFromBothSides) {
    AsyncioTask &p = add_task(), &c1 = add_task(), &c2 = add_task(), &c3 = add_task();
    uint64_t outer = gathering({c1.address, c2.address, c3.address}, {fake->wakeup(p.address)});
    set_callbacks(c1, {gather_callback(outer)});
    set_callbacks(c2, {gather_callback(outer)});
    // c3 finished: its callbacks were cleared; only the parent's fut_waiter finds it.
    p.fut_waiter = outer;
    graph->update(scanned());
    for (const AsyncioTask* c : {&c1, &c2, &c3}) {
        ASSERT_EQ(graph->parents(c->address).size(), 1u);
        EXPECT_EQ(graph->parents(c->address)[0].task, p.address);
        EXPECT_EQ(graph->parents(c->address)[0].kind, AwaiterKind::gather);
        EXPECT_EQ(graph->parents(c->address)[0].via, outer);
        EXPECT_EQ(graph->ancestry(c->address).tasks, (std::vector<uint64_t>{p.address, c->address}));
    }
}

TEST_P(Graph, TaskGroupChildren) {
    AsyncioTask &p = add_task(), &c1 = add_task(), &c2 = add_task();
    uint64_t group = fake->object(fake->plain_type);
    fake->set_attribute(group, fake->plain_type, "_parent_task", p.address);
    uint64_t on_done = fake->function(fake->code("_on_task_done", "/x/asyncio/taskgroups.py"));
    set_callbacks(c1, {fake->method(on_done, group)});
    set_callbacks(c2, {fake->method(on_done, group)});
    p.fut_waiter = fake->future();  // __aexit__ waits on a plain future: only the children tell
    graph->update(scanned());
    if (GetParam() <= 10) {  // no TaskGroup before 3.11: the names are not looked for
        EXPECT_TRUE(graph->parents(c1.address).empty());
        return;
    }
    EXPECT_EQ(parent_tasks(c1.address), std::vector<uint64_t>{p.address});
    EXPECT_EQ(parent_tasks(c2.address), std::vector<uint64_t>{p.address});
    EXPECT_EQ(graph->parents(c1.address)[0].kind, AwaiterKind::task_group);
    EXPECT_EQ(graph->parents(c1.address)[0].via, group);
    EXPECT_TRUE(graph->parents(p.address).empty());
}

TEST_P(Graph, DiamondKeepsEveryParentFirstAwaiterPrimary) {
    AsyncioTask &root = add_task(), &a = add_task(), &b = add_task(), &x = add_task();
    set_callbacks(a, {fake->wakeup(root.address)});
    set_callbacks(b, {fake->wakeup(root.address)});
    set_callbacks(x, {fake->wakeup(b.address), fake->wakeup(a.address)});  // b awaited x first
    graph->update(scanned());
    EXPECT_EQ(parent_tasks(x.address), (std::vector<uint64_t>{b.address, a.address}));
    EXPECT_EQ(graph->ancestry(x.address).tasks, (std::vector<uint64_t>{root.address, b.address, x.address}));
}

TEST_P(Graph, ParentsOnlyByFutWaiterComeAfterInAddressOrder) {
    AsyncioTask &a = add_task(), &b = add_task(), &x = add_task();
    a.fut_waiter = x.address;  // both await x, but x's callbacks are gone
    b.fut_waiter = x.address;
    graph->update(scanned());
    std::vector<uint64_t> expected{std::min(a.address, b.address), std::max(a.address, b.address)};
    EXPECT_EQ(parent_tasks(x.address), expected);
    // With a callback naming b, b comes first whatever the addresses.
    set_callbacks(x, {fake->wakeup(b.address)});
    graph->update(scanned());
    EXPECT_EQ(parent_tasks(x.address), (std::vector<uint64_t>{b.address, a.address}));
}

TEST_P(Graph, UnchangedTaskIsNotReadAgainForItsFutWaiter) {
    // p waits on a plain future; the next scans, with p unchanged, do not read that future again
    // (made to look like a gather here, it would list c).
    AsyncioTask &p = add_task(), &c = add_task();
    uint64_t f = fake->future();
    p.fut_waiter = f;
    graph->update(scanned());
    fake->put<uint64_t>(f, layout->object_type, fake->gathering_type);
    fake->set_attribute(f, fake->gathering_type, "_children", fake->list({c.address}));
    graph->update(scanned());
    EXPECT_TRUE(graph->parents(c.address).empty());
    // A task it waits on that joins the scan later is linked without reading anything.
    AsyncioTask& q = add_task();
    AsyncioTask later = add_task();
    q.fut_waiter = later.address;
    scan.pop_back();
    graph->update(scanned());  // q waits on a task not in this scan
    EXPECT_TRUE(graph->parents(later.address).empty());
    scan.push_back(later);
    graph->update(scanned());
    EXPECT_EQ(parent_tasks(later.address), std::vector<uint64_t>{q.address});
}

TEST_P(Graph, CycleIsCutAndSaidSo) {
    AsyncioTask &a = add_task(), &b = add_task(), &c = add_task();
    set_callbacks(a, {fake->wakeup(b.address)});
    set_callbacks(b, {fake->wakeup(a.address)});
    set_callbacks(c, {fake->wakeup(c.address)});  // a task naming itself is no parent
    graph->update(scanned());
    TaskAncestry chain = graph->ancestry(a.address);
    EXPECT_EQ(chain.cut, TaskAncestry::Cut::cycle);
    EXPECT_EQ(chain.tasks, (std::vector<uint64_t>{b.address, a.address}));
    EXPECT_TRUE(graph->parents(c.address).empty());
    EXPECT_EQ(graph->ancestry(c.address).cut, TaskAncestry::Cut::none);
}

TEST_P(Graph, DepthBoundKeepsTheInnermostTasks) {
    std::vector<AsyncioTask*> chain;
    for (int i = 0; i < 100; i++) {
        AsyncioTask& t = add_task();
        if (!chain.empty()) set_callbacks(t, {fake->wakeup(chain.back()->address)});
        chain.push_back(&t);
    }
    graph->update(scanned());
    TaskAncestry full = graph->ancestry(chain.back()->address, 200);
    EXPECT_EQ(full.tasks.size(), 100u);
    EXPECT_EQ(full.cut, TaskAncestry::Cut::none);
    TaskAncestry cut = graph->ancestry(chain.back()->address, 64);
    EXPECT_EQ(cut.cut, TaskAncestry::Cut::depth);
    ASSERT_EQ(cut.tasks.size(), 64u);
    EXPECT_EQ(cut.tasks.back(), chain.back()->address);
    EXPECT_EQ(cut.tasks.front(), chain[36]->address);
}

TEST_P(Graph, MissingParentIsCountedNotShown) {
    AsyncioTask& c = add_task();
    uint64_t elsewhere = fake->task();  // a task the scan did not return
    set_callbacks(c, {fake->wakeup(elsewhere)});
    graph->update(scanned());
    EXPECT_TRUE(graph->parents(c.address).empty());
    EXPECT_EQ(graph->missing_parents(c.address), 1u);
    EXPECT_EQ(graph->ancestry(c.address).tasks, std::vector<uint64_t>{c.address});
    EXPECT_TRUE(graph->parents(0xdead).empty());
}

TEST_P(Graph, RescanReReadsOnlyWhatChanged) {
    AsyncioTask &p = add_task(), &q = add_task(), &c = add_task(), &d = add_task();
    set_callbacks(c, {fake->wakeup(p.address)});
    set_callbacks(d, {fake->wakeup(q.address)});
    TaskGraphUpdate first = graph->update(scanned());
    EXPECT_EQ(first.reread, 4u);
    EXPECT_EQ(graph->update(scanned()).reread, 0u);
    // d now awaited by p instead (new callbacks): d alone is read again.
    set_callbacks(d, {fake->wakeup(p.address)});
    TaskGraphUpdate third = graph->update(scanned());
    EXPECT_EQ(third.reread, 1u);
    EXPECT_EQ(parent_tasks(d.address), std::vector<uint64_t>{p.address});
    // p gone from the scan: forgotten, and no longer anyone's parent.
    scan.pop_front();
    TaskGraphUpdate fourth = graph->update(scanned());
    EXPECT_EQ(fourth.removed, 1u);
    EXPECT_FALSE(graph->contains(p.address));
    EXPECT_TRUE(graph->parents(c.address).empty());
}

TEST_P(Graph, GatherAwaitedLaterIsFoundWithoutTheChildChanging) {
    AsyncioTask &p = add_task(), &c = add_task();
    uint64_t outer = gathering({}, {});  // no _children: only the child side can tell
    set_callbacks(c, {gather_callback(outer)});
    graph->update(scanned());
    EXPECT_TRUE(graph->parents(c.address).empty());
    // The parent now awaits the gather: its callback0 is the parent's wakeup. The child's own
    // callbacks did not change; it is re-read because its answer was still open.
    fake->set_callbacks(outer, {fake->wakeup(p.address)});
    p.fut_waiter = outer;
    graph->update(scanned());
    EXPECT_EQ(parent_tasks(c.address), std::vector<uint64_t>{p.address});
    // Resolved: a further identical scan reads nothing again.
    EXPECT_EQ(graph->update(scanned()).reread, 0u);
    // A second task awaiting the same gather: the child is re-read (it went through `outer`).
    AsyncioTask& p2 = add_task();
    fake->set_callbacks(outer, {fake->wakeup(p.address), fake->wakeup(p2.address)});
    p2.fut_waiter = outer;
    graph->update(scanned());
    EXPECT_EQ(parent_tasks(c.address), (std::vector<uint64_t>{p.address, p2.address}));
}

// A task read between scans (a child started since the last one) is linked to the parents the
// scan knows; one put in place of another at its address answers for itself, not its predecessor.
TEST_P(Graph, TaskPutBetweenScansFindsItsParentsAndReplacesTheOneBefore) {
    AsyncioTask &a = add_task(), &p = add_task(), &q = add_task();
    set_callbacks(p, {fake->wakeup(a.address)});
    graph->update(scanned());
    AsyncioTask child;
    child.address = fake->task();
    child.callbacks = {fake->wakeup(p.address)};
    fake->set_callbacks(child.address, child.callbacks);
    graph->put(child);
    EXPECT_TRUE(graph->contains(child.address));
    EXPECT_EQ(graph->ancestry(child.address).tasks, (std::vector<uint64_t>{a.address, p.address, child.address}));
    // Another task at the child's address, awaited by q and by one the scan never saw.
    uint64_t unseen = fake->task();
    child.callbacks = {fake->wakeup(q.address), fake->wakeup(unseen)};
    fake->set_callbacks(child.address, child.callbacks);
    graph->put(child);
    EXPECT_EQ(parent_tasks(child.address), std::vector<uint64_t>{q.address});
    EXPECT_EQ(graph->missing_parents(child.address), 1u);
    // The next scan, without it, forgets it.
    graph->update(scanned());
    EXPECT_FALSE(graph->contains(child.address));
}

INSTANTIATE_TEST_SUITE_P(Versions, Graph, ::testing::Values(8, 11, 13),
                         [](const auto& info) { return "py3_" + std::to_string(info.param); });

}  // namespace
}  // namespace pyat
