#include "runtimes/asyncio/task_graph.h"

#include <algorithm>
#include <unordered_set>

namespace pyat {

void TaskGraph::read_awaiters(uint64_t address, Entry& entry) {
    entry.awaiters.clear();
    entry.followed.clear();
    entry.unresolved = false;
    for (uint64_t callback : entry.callbacks) {
        Awaiter a = reader_.classify(callback);
        if (a.via && a.parents.empty() && (a.kind == AwaiterKind::gather || a.kind == AwaiterKind::shield ||
                                           a.kind == AwaiterKind::wait || a.kind == AwaiterKind::release_waiter))
            entry.unresolved = true;
        for (uint64_t parent : a.parents)
            if (parent != address) entry.awaiters.push_back({parent, a.kind, a.via});
        entry.followed.insert(entry.followed.end(), a.followed.begin(), a.followed.end());
    }
}

void TaskGraph::read_children(Entry& entry, bool read_gather) {
    if (read_gather) {
        entry.children.clear();
        entry.children_kind = AwaiterKind::unknown;
    }
    if (!entry.fut_waiter || !entry.children.empty()) return;
    if (tasks_.count(entry.fut_waiter)) {  // `await other_task`
        entry.children.push_back(entry.fut_waiter);
        entry.children_kind = AwaiterKind::task_wakeup;
    } else if (auto children = read_gather ? reader_.gathering_children(entry.fut_waiter) : std::nullopt) {
        entry.children = std::move(*children);
        entry.children_kind = AwaiterKind::gather;
    }
}

TaskGraphUpdate TaskGraph::update(const std::vector<AsyncioTask>& scan) {
    std::vector<const AsyncioTask*> tasks;
    tasks.reserve(scan.size());
    for (const AsyncioTask& t : scan) tasks.push_back(&t);
    return update(tasks);
}

TaskGraphUpdate TaskGraph::update(const std::vector<const AsyncioTask*>& scan) {
    TaskGraphUpdate stats;
    stats.tasks = scan.size();
    std::unordered_set<uint64_t> present;
    for (const AsyncioTask* t : scan) present.insert(t->address);
    for (auto it = tasks_.begin(); it != tasks_.end();) {
        if (present.count(it->first)) {
            ++it;
        } else {
            it = tasks_.erase(it);
            stats.removed++;
        }
    }
    // What changed, and the futures the changed tasks now wait on.
    std::unordered_set<uint64_t> changed, new_waits;
    for (const AsyncioTask* task : scan) {
        const AsyncioTask& t = *task;
        auto [it, inserted] = tasks_.try_emplace(t.address);
        Entry& e = it->second;
        if (inserted || e.callbacks != t.callbacks || e.fut_waiter != t.fut_waiter) {
            changed.insert(t.address);
            if (t.fut_waiter && (inserted || e.fut_waiter != t.fut_waiter)) new_waits.insert(t.fut_waiter);
            e.callbacks = t.callbacks;
            e.fut_waiter = t.fut_waiter;
        }
    }
    for (auto& [address, e] : tasks_) {
        bool reread = changed.count(address) || e.unresolved ||
                      std::any_of(e.followed.begin(), e.followed.end(),
                                  [&](uint64_t f) { return new_waits.count(f) != 0; });
        if (reread) {
            read_awaiters(address, e);
            stats.reread++;
        }
        // Children by fut_waiter: read when the task changed; otherwise only whether the task it
        // waits on has appeared in the scan since (no read of the target).
        read_children(e, changed.count(address) != 0);
    }
    link();
    return stats;
}

void TaskGraph::put(const AsyncioTask& task) {
    Entry& e = tasks_[task.address];
    e = Entry{};
    parents_.erase(task.address);
    missing_.erase(task.address);
    e.callbacks = task.callbacks;
    e.fut_waiter = task.fut_waiter;
    read_awaiters(task.address, e);
    read_children(e, true);
    link_awaiters(task.address, e);
}

void TaskGraph::link_awaiters(uint64_t address, const Entry& e) {
    auto& list = parents_[address];
    for (const TaskParent& p : e.awaiters) {
        if (!tasks_.count(p.task)) {
            missing_[address]++;
            continue;
        }
        if (std::none_of(list.begin(), list.end(), [&](const TaskParent& q) { return q.task == p.task; }))
            list.push_back(p);
    }
}

void TaskGraph::link() {
    parents_.clear();
    missing_.clear();
    for (const auto& [address, e] : tasks_) link_awaiters(address, e);
    // Parent side: only parents the child's callbacks did not name, sorted by address after them.
    std::unordered_map<uint64_t, std::vector<TaskParent>> by_waiter;
    for (const auto& [address, e] : tasks_)
        for (uint64_t child : e.children)
            if (child != address && tasks_.count(child))
                by_waiter[child].push_back({address, e.children_kind, e.children_kind == AwaiterKind::gather ? e.fut_waiter : 0});
    for (auto& [child, extra] : by_waiter) {
        std::sort(extra.begin(), extra.end(), [](const TaskParent& a, const TaskParent& b) { return a.task < b.task; });
        auto& list = parents_[child];
        for (const TaskParent& p : extra)
            if (std::none_of(list.begin(), list.end(), [&](const TaskParent& q) { return q.task == p.task; }))
                list.push_back(p);
    }
}

const std::vector<TaskParent>& TaskGraph::parents(uint64_t task) const {
    static const std::vector<TaskParent> none;
    auto it = parents_.find(task);
    return it == parents_.end() ? none : it->second;
}

size_t TaskGraph::missing_parents(uint64_t task) const {
    auto it = missing_.find(task);
    return it == missing_.end() ? 0 : it->second;
}

TaskAncestry TaskGraph::ancestry(uint64_t task, size_t max_depth) const {
    TaskAncestry out;
    if (!max_depth) {
        out.cut = TaskAncestry::Cut::depth;
        return out;
    }
    std::unordered_set<uint64_t> seen;
    uint64_t at = task;
    while (true) {
        out.tasks.push_back(at);
        seen.insert(at);
        const auto& up = parents(at);
        if (up.empty()) break;
        uint64_t next = up.front().task;
        if (seen.count(next)) {
            out.cut = TaskAncestry::Cut::cycle;
            break;
        }
        if (out.tasks.size() >= max_depth) {
            out.cut = TaskAncestry::Cut::depth;
            break;
        }
        at = next;
    }
    std::reverse(out.tasks.begin(), out.tasks.end());
    return out;
}

}  // namespace pyat
