#include "runtimes/asyncio/task_scan.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "base/error.h"
#include "base/run_clock.h"
#include "cpython/python_objects.h"
#include "process/elf_file.h"
#include "process/proc_maps.h"
#include "process/target_file.h"
#include "runtimes/asyncio/asyncio_extension.h"
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
        else if (layout->task_node) use_thread_lists();
    }
    // 3.14+: the native tasks are listed per thread, where the extension's own section says.
    void use_thread_lists() {
        try {
            const AsyncioExtension extension = asyncio_extension(read_maps(process.pid), process.interpreter);
            const ElfFile file = ElfFile::open(TargetFile::mapped(process.pid, extension.path));
            auto debug = read_asyncio_debug(file);
            if (!debug) {
                unusable = fmt::format("{} has no .AsyncioDebug section (CPython {} lists its tasks where that "
                                       "section says)",
                                       extension.path, process.version);
            } else if (std::string why = check_asyncio_debug(*debug, *layout); !why.empty()) {
                unusable = fmt::format("{}'s .AsyncioDebug section disagrees with probes/asyncio: {}", extension.path, why);
            } else {
                registry.use_thread_lists(*debug);
            }
        } catch (const Error& e) {
            unusable = e.what();
        }
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
    const uint64_t cpu_start = thread_cpu_ns();
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
    std::vector<uint64_t> unchanged;
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
            unchanged.push_back(address);
            snapshots.emplace(address, snap->second);
            continue;
        }
        TaskSnapshot snapshot;
        auto task = s.reader->read(address, &snapshot);
        if (!task) continue;
        cost.tasks_read++;
        task->serial = ++reads_;
        if (old != tasks_.end()) follow_on(old->second, *task, start);
        next.emplace(address, std::move(*task));
        snapshots.emplace(address, snapshot);
    }
    // Tasks that ended since the last scan: a sample taken before this scan may still name them
    // (a gather's last child ends, the gather returns, the children are freed before the samples
    // of their last steps are read).
    for (auto it = gone_.begin(); it != gone_.end();) {
        if (it->second.absent_since + gone_kept_ns >= start) {
            ++it;
            continue;
        }
        if (auto f = gone_by_frame_.find(it->second.task.coro_frame); f != gone_by_frame_.end() && f->second == it->first)
            gone_by_frame_.erase(f);
        it = gone_.erase(it);
    }
    // Before the unchanged tasks move on: a buried task keeps copies of its awaiters, read here.
    std::unordered_set<uint64_t> staying(unchanged.begin(), unchanged.end());
    for (auto& [address, task] : tasks_)
        if (!next.count(address) && !staying.count(address) && task.coro_frame) bury(task, start);
    for (uint64_t address : unchanged) next.emplace(address, std::move(tasks_.at(address)));
    flush_buried();
    tasks_ = std::move(next);
    s.snapshots = std::move(snapshots);

    std::vector<const AsyncioTask*> all;
    all.reserve(tasks_.size());
    for (const auto& [address, task] : tasks_) all.push_back(&task);
    s.graph->update(all);

    order_.clear();
    by_frame_.clear();
    waiting_on_tasks_.clear();
    for (auto& [address, task] : tasks_) {
        order_.push_back(&task);
        if (task.coro_frame) by_frame_[task.coro_frame] = &task;
        for (const auto& parent : s.graph->parents(address)) waiting_on_tasks_.insert(parent.task);
    }
    // What awaits each pending task, kept for when it is done: a finished task's callbacks are
    // cleared and its awaiter moves on, while the samples of its last steps are still to be read.
    for (auto it = pending_awaiters_.begin(); it != pending_awaiters_.end();)
        it = tasks_.count(it->first) ? std::next(it) : pending_awaiters_.erase(it);
    for (auto& [address, task] : tasks_) keep_awaiters(task);
    tried_frames_.clear();
    tried_tasks_.clear();
    adopted_at_.clear();

    last_scan_start_ns_ = start;
    cost.scans++;
    cost.tasks_seen += tasks_.size();
    cost.most_tasks = std::max<uint64_t>(cost.most_tasks, tasks_.size());
    const uint64_t spent = thread_cpu_ns() - cpu_start;
    cost.ns += spent;
    if (cost.scans == 1) {
        cost.first_ns = spent;
        cost.first_tasks = tasks_.size();
    }
    return true;
}

bool TaskScan::read_after(uint64_t address, uint64_t ns) const {
    if (scanned_after(ns)) return true;
    auto it = adopted_at_.find(address);
    return it != adopted_at_.end() && it->second >= ns;
}

bool TaskScan::adopt(uint64_t address, uint64_t sampled_ns, TaskScanCost& cost) {
    Impl& s = *impl_;
    if (!address || !s.reader || !s.checked) return false;
    const uint64_t start = monotonic_ns();
    auto [tried, first] = tried_tasks_.try_emplace(address, start);
    if (!first && tried->second >= sampled_ns) return false;
    tried->second = start;
    const uint64_t cpu_start = thread_cpu_ns();
    TaskSnapshot snapshot;
    auto read = s.reader->read(address, &snapshot);
    if (read) {
        cost.tasks_read++;
        cost.adopted++;
        read->serial = ++reads_;
        auto [slot, inserted] = tasks_.try_emplace(address);
        AsyncioTask& task = slot->second;
        read->found_ns = start;
        if (inserted) {
            order_.push_back(&task);
        } else {  // a task the last scan saw at this address
            if (follow_on(task, *read, start)) {
                flush_buried();
                pending_awaiters_.erase(address);  // the one before's: a finished task keeps its own
            } else if (read->await_frames.empty() && !task.await_frames.empty()) {
                // The same task, read as it runs (the sample was in it): what the scan read of it
                // suspended stays, for the samples of the tasks it awaits (it awaits there again,
                // or a scan reads it anew). The read proved it is what the sample ran.
                adopted_at_[address] = start;
                cost.ns += thread_cpu_ns() - cpu_start;
                return true;
            } else {
                read->found_ns = task.found_ns;  // the same task: charged since it was first found
            }
            if (auto f = by_frame_.find(task.coro_frame); f != by_frame_.end() && f->second == &task) by_frame_.erase(f);
        }
        task = std::move(*read);
        adopted_at_[address] = start;
        s.snapshots[address] = snapshot;
        if (task.coro_frame) by_frame_[task.coro_frame] = &task;
        s.graph->put(task);
        keep_awaiters(task);
    }
    cost.ns += thread_cpu_ns() - cpu_start;
    return read.has_value();
}

const AsyncioTask* TaskScan::awaiter_by_callback(uint64_t callback, TaskScanCost& cost) {
    Impl& s = *impl_;
    if (!callback || !s.awaiters) return nullptr;
    const uint64_t cpu_start = thread_cpu_ns();
    const AsyncioTask* found = nullptr;
    for (uint64_t parent : s.awaiters->classify(callback).parents)
        if (auto it = tasks_.find(parent); it != tasks_.end()) {
            found = &it->second;
            cost.by_callback++;
            break;
        }
    cost.ns += thread_cpu_ns() - cpu_start;
    return found;
}

bool TaskScan::follow_on(const AsyncioTask& old, AsyncioTask& fresh, uint64_t now_ns) {
    if (old.coro == fresh.coro && !fresh.coro_frame) {
        // Its coroutine just ended (3.8-3.10 drop the frame then): samples of its last step
        // still show that frame.
        fresh.coro_frame = old.coro_frame;
        fresh.coro_code = old.coro_code;
    }
    // Another task made where one ended (a task and its coroutine freed and made again at the
    // same addresses): the one that ended is gone, as if its address had left the registry.
    if (old.coro == fresh.coro && old.coro_code == fresh.coro_code) return false;
    bury(old, now_ns);
    return true;
}

void TaskScan::keep_awaiters(const AsyncioTask& task) {
    if (task.state != TaskState::pending) return;
    std::vector<const AsyncioTask*> now = awaiters(task);
    if (now.empty()) return;
    auto& kept = pending_awaiters_[task.address];
    bool same = kept.size() == now.size() &&
                std::equal(kept.begin(), kept.end(), now.begin(), [](const AsyncioTask& a, const AsyncioTask* b) {
                    return a.address == b->address && a.await_frames.size() == b->await_frames.size();
                });
    if (same) return;
    kept.clear();
    for (const AsyncioTask* a : now) kept.push_back(*a);
}

void TaskScan::flush_buried() {
    for (auto& [address, g] : buried_) {
        gone_by_frame_[g.task.coro_frame] = address;
        gone_[address] = std::move(g);
    }
    buried_.clear();
}

void TaskScan::bury(const AsyncioTask& task, uint64_t absent_since) {
    if (buried_.count(task.address)) return;
    Gone g;
    for (const AsyncioTask* a : awaiters(task)) g.awaiters.push_back(*a);  // while the graph is the old one
    g.task = task;
    if (g.task.state == TaskState::pending) g.task.state = TaskState::finished;  // gone: it ended
    g.absent_since = absent_since;
    buried_.emplace(task.address, std::move(g));
}

const AsyncioTask* TaskScan::running_task(uint64_t address, uint64_t frame, uint64_t code, uint64_t sampled_ns) const {
    auto runs = [&](const AsyncioTask* t) { return t && t->coro_frame == frame && t->coro_code == code ? t : nullptr; };
    if (address) {
        if (auto it = tasks_.find(address); it != tasks_.end() && runs(&it->second)) return &it->second;
        auto gone = gone_.find(address);
        return gone != gone_.end() && sampled_ns < gone->second.absent_since ? runs(&gone->second.task) : nullptr;
    }
    if (auto it = by_frame_.find(frame); it != by_frame_.end() && runs(it->second)) return it->second;
    auto gone = gone_by_frame_.find(frame);
    if (gone == gone_by_frame_.end()) return nullptr;
    auto g = gone_.find(gone->second);
    return g != gone_.end() && sampled_ns < g->second.absent_since ? runs(&g->second.task) : nullptr;
}

const AsyncioTask* TaskScan::task(uint64_t address, uint64_t sampled_ns) const {
    if (auto it = tasks_.find(address); it != tasks_.end()) return &it->second;
    auto gone = gone_.find(address);
    return gone != gone_.end() && sampled_ns < gone->second.absent_since ? &gone->second.task : nullptr;
}

std::vector<const AsyncioTask*> TaskScan::awaiters(const AsyncioTask& task) const {
    std::vector<const AsyncioTask*> out;
    if (auto gone = gone_.find(task.address); gone != gone_.end() && &gone->second.task == &task) {
        for (const auto& a : gone->second.awaiters) out.push_back(&a);
        return out;
    }
    if (!impl_->graph) return out;
    TaskAncestry ancestry = impl_->graph->ancestry(task.address);
    for (uint64_t address : ancestry.tasks)
        if (address != task.address)
            if (auto it = tasks_.find(address); it != tasks_.end()) out.push_back(&it->second);
    if (out.empty() && task.state != TaskState::pending)
        if (auto kept = pending_awaiters_.find(task.address); kept != pending_awaiters_.end())
            for (const auto& a : kept->second) out.push_back(&a);
    return out;
}

bool TaskScan::awaits_tasks(const AsyncioTask& task) const {
    return task.leaf == AwaitLeaf::task || task.leaf == AwaitLeaf::gathering ||
           waiting_on_tasks_.count(task.address) != 0;
}

}  // namespace pyat

