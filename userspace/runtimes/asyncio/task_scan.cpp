#include "runtimes/asyncio/task_scan.h"

#include <optional>

#include "base/run_clock.h"
#include "cpython/python_objects.h"
#include "runtimes/asyncio/asyncio_layout.h"
#include "runtimes/asyncio/awaited_by.h"
#include "runtimes/asyncio/awaited_by_description.h"
#include "runtimes/asyncio/task_graph.h"
#include "runtimes/asyncio/task_reader.h"
#include "runtimes/asyncio/task_registry.h"

namespace pyat {

// What one process's scans keep between them.
struct TaskScan::Impl {
    const PythonProcess process;  // a copy: the caller's may go before the scans do
    const AsyncioLayout* layout;
    const AwaitedByDescription* awaited_by;
    PythonObjects objects;
    TaskRegistry registry;
    std::optional<TaskReader> reader;  // made at the first scan, with the resolver it names frames by
    std::optional<AwaitedByReader> awaiters;
    std::optional<TaskGraph> graph;
    std::unordered_map<uint64_t, TaskSnapshot> snapshots;
    bool checked = false;  // the layout's self-check passed on a task of this process
    std::string unusable;  // why the tasks cannot be read ("" while they can)

    explicit Impl(const PythonProcess& p)
        : process(p),
          layout(find_asyncio_layout(p.layout->major, p.layout->minor)),
          awaited_by(find_awaited_by_description(p.layout->major, p.layout->minor)),
          objects(ProcessMemory(p.pid), *p.layout),
          registry(objects, *p.layout, layout ? *layout : fallback_layout(), p.runtime_address) {
        if (!layout) unusable = "no asyncio layout for this CPython under probes/asyncio";
        else if (!awaited_by) unusable = "no awaited-by description for this CPython under probes/asyncio";
    }
    static const AsyncioLayout& fallback_layout() {
        static const AsyncioLayout none{};
        return none;
    }
};

TaskScan::TaskScan(const PythonProcess& process) : impl_(std::make_unique<Impl>(process)) {}
TaskScan::~TaskScan() = default;

const std::string& TaskScan::unusable() const { return impl_->unusable; }

bool TaskScan::tried_frame(uint64_t frame) { return !tried_frames_.insert(frame).second; }

bool TaskScan::scan(CodeResolver& resolver, TaskScanCost& cost) {
    Impl& s = *impl_;
    if (!s.unusable.empty()) return false;
    const uint64_t start = monotonic_ns();
    if (!s.registry.find()) return false;
    if (!s.reader) {
        s.reader.emplace(ProcessMemory(s.process.pid), *s.process.layout, *s.layout, resolver,
                         s.registry.py_task_class());
        s.awaiters.emplace(s.objects, *s.process.layout, *s.awaited_by,
                           FutureCallbackOffsets{s.layout->fut_callback0, s.layout->fut_callbacks});
        s.graph.emplace(*s.awaiters);
    }
    s.reader->set_py_task_class(s.registry.py_task_class());

    std::vector<uint64_t> listed = s.registry.tasks();
    std::vector<RunningTask> running = s.registry.running();
    running_.clear();
    for (const auto& r : running) {
        running_.insert(r.task);
        listed.push_back(r.task);  // an eager task runs before any registry lists it
    }
    std::unordered_map<uint64_t, AsyncioTask> next;
    std::unordered_map<uint64_t, TaskSnapshot> snapshots;
    next.reserve(listed.size());
    for (uint64_t address : listed) {
        if (!address || next.count(address)) continue;
        if (!s.checked) {
            if (std::string why = check_asyncio_layout(s.objects, *s.process.layout, *s.layout, address,
                                                       s.registry.py_task_class());
                !why.empty())
                continue;  // a freed entry, or a layout that does not hold: the next one decides
            s.checked = true;
        }
        auto old = tasks_.find(address);
        auto snap = s.snapshots.find(address);
        if (old != tasks_.end() && snap != s.snapshots.end() && !s.reader->changed(snap->second)) {
            next.emplace(address, std::move(old->second));
            snapshots.emplace(address, snap->second);
            continue;
        }
        TaskSnapshot snapshot;
        auto task = s.reader->read(address, &snapshot);
        if (!task) continue;
        cost.tasks_read++;
        next.emplace(address, std::move(*task));
        snapshots.emplace(address, snapshot);
    }
    // Tasks that ended since the last scan: a sample taken before this scan may still name them
    // (a gather's last child ends, the gather returns, the children are freed before the samples
    // of their last steps are read).
    for (auto it = gone_.begin(); it != gone_.end();)
        it = it->second.absent_since + gone_kept_ns < start ? gone_.erase(it) : std::next(it);
    for (auto& [address, task] : tasks_)
        if (!next.count(address) && task.coro_frame) {
            Gone g;
            for (const AsyncioTask* a : awaiters(task)) g.awaiters.push_back(*a);
            g.task = std::move(task);
            g.absent_since = start;
            gone_[g.task.coro_frame] = std::move(g);
        }
    tasks_ = std::move(next);
    s.snapshots = std::move(snapshots);

    std::vector<AsyncioTask> all;
    all.reserve(tasks_.size());
    for (const auto& [address, task] : tasks_) all.push_back(task);
    s.graph->update(all);

    order_.clear();
    by_frame_.clear();
    waiting_on_tasks_.clear();
    for (auto& [address, task] : tasks_) {
        order_.push_back(&task);
        if (task.coro_frame) by_frame_[task.coro_frame] = &task;
        for (const auto& parent : s.graph->parents(address)) waiting_on_tasks_.insert(parent.task);
    }
    for (auto it = remainders_.begin(); it != remainders_.end();)
        it = tasks_.count(it->first) ? std::next(it) : remainders_.erase(it);
    tried_frames_.clear();

    last_scan_start_ns_ = start;
    cost.scans++;
    cost.tasks_seen += tasks_.size();
    cost.most_tasks = std::max<uint64_t>(cost.most_tasks, tasks_.size());
    cost.ns += monotonic_ns() - start;
    return true;
}

const AsyncioTask* TaskScan::task_of_frame(uint64_t coro_frame, uint64_t sampled_ns) const {
    if (auto it = by_frame_.find(coro_frame); it != by_frame_.end()) return it->second;
    auto gone = gone_.find(coro_frame);
    return gone != gone_.end() && sampled_ns < gone->second.absent_since ? &gone->second.task : nullptr;
}

const AsyncioTask* TaskScan::task(uint64_t address) const {
    auto it = tasks_.find(address);
    return it == tasks_.end() ? nullptr : &it->second;
}

std::vector<const AsyncioTask*> TaskScan::awaiters(const AsyncioTask& task) const {
    std::vector<const AsyncioTask*> out;
    if (auto gone = gone_.find(task.coro_frame); gone != gone_.end() && &gone->second.task == &task) {
        for (const auto& a : gone->second.awaiters) out.push_back(&a);
        return out;
    }
    if (!impl_->graph) return out;
    TaskAncestry ancestry = impl_->graph->ancestry(task.address);
    for (uint64_t address : ancestry.tasks)
        if (address != task.address)
            if (const AsyncioTask* t = this->task(address)) out.push_back(t);
    return out;
}

bool TaskScan::awaits_tasks(const AsyncioTask& task) const {
    return task.leaf == AwaitLeaf::task || task.leaf == AwaitLeaf::gathering ||
           waiting_on_tasks_.count(task.address) != 0;
}

}  // namespace pyat

