#include "runtimes/asyncio/asyncio_runtime.h"

#include <fmt/format.h>

#include <algorithm>

#include "asyncio/asyncio_abi.h"
#include "cpython/python_objects.h"
#include "base/error.h"
#include "process/proc_maps.h"
#include "process/proc_status.h"
#include "process/target_file.h"
#include "profile/stack_aggregator.h"
#include "runtimes/asyncio/asyncio_description.h"
#include "runtimes/asyncio/asyncio_layout.h"
#include "runtimes/asyncio/asyncio_stacks.h"
#include "runtimes/asyncio/task_step_sites.h"

namespace pyat {

namespace {
constexpr const char* layouts_map = "asyncio_processes";
constexpr const char* step_programs[] = {"on_task_step_task_first", "on_task_step_task_second", "on_task_step_wrapped"};

// The code object at the end of `path` (module:Class.attribute...), or 0 while any step is missing.
uint64_t code_at(const PythonObjects& objects, const CpythonLayout& layout, uint64_t modules,
                 const AttributePath& path) {
    uint64_t object = objects.dict_get(modules, path.module);
    for (size_t i = 0; object && i < path.attributes.size(); i++) {
        const std::string& name = path.attributes[i];
        if (i == 0) {
            object = objects.module_attribute(object, name);
        } else {
            uint64_t dict = objects.read_pointer(object + layout.type_dict);  // a class: its own dict
            object = dict ? objects.dict_get(dict, name) : 0;
        }
    }
    return object ? objects.read_pointer(object + layout.func_code) : 0;
}
// Where the kernel finds the running tasks ({loop: task} of asyncio.tasks._current_tasks) and
// how it reads that dict and a task's coroutine frame. Left 0 (no task recorded: userspace goes
// by the frame alone) when the dict is not found.
void describe_running_tasks(const PythonObjects& objects, const CpythonLayout& l, const AsyncioLayout& a,
                            uint64_t modules, asyncio_layout& out) {
    uint64_t tasks = objects.dict_get(modules, a.tasks_module);
    out.current_tasks = tasks ? objects.module_attribute(tasks, a.current_tasks) : 0;
    out.dict_keys = l.dict_keys;
    out.sized_keys = l.dict_layout == DictLayout::sized;
    out.dictkeys_size = l.dictkeys_size;
    out.dictkeys_log2_index_bytes = l.dictkeys_index_bytes;
    out.dictkeys_nentries = l.dictkeys_nentries;
    out.dictkeys_indices = l.dictkeys_indices;
    out.dict_entry_size = l.dict_entry_size;
    out.task_coro = a.task_coro;
    out.fut_callback0 = a.fut_callback0;
    out.gen_frame = l.gen_frame;
    out.gen_frame_embedded = l.gen_frame_embedded;
}
}  // namespace

std::vector<std::string_view> AsyncioRuntime::kernel_names() const {
    std::vector<std::string_view> names{layouts_map};
    names.insert(names.end(), std::begin(step_programs), std::end(step_programs));
    return names;
}

void AsyncioRuntime::configure(const Options& options, SamplerConfig& config) const {
    config.wake_on_task_samples = options.clock == Clock::cpu;
    if (options.asyncio_steps)
        for (const char* program : step_programs) config.on_demand.emplace(program);
}

std::string AsyncioRuntime::hook_steps(const PythonProcess& p, RuntimeContext& context) {
    const AsyncioLayout* layout = find_asyncio_layout(p.layout->major, p.layout->minor);
    if (!layout) return fmt::format("CPython {}'s asyncio is not described under probes/asyncio", p.version);
    std::vector<Mapping> maps;
    try {
        maps = read_maps(p.pid);
    } catch (const Error& e) {
        return e.what();
    }
    TaskStepSites found = find_task_step_sites(p.pid, maps, p.interpreter, *p.layout, *layout);
    if (found.sites.empty()) return found.why;
    std::string where;
    try {
        const TargetFile module = TargetFile::mapped(p.pid, maps, found.path);  // the very file mapped
        for (const auto& site : found.sites) {
            if (auto why = context.kernel.attach_uprobe(site.program, p.pid, module.fd_path(), "", site.offset);
                !why.empty()) {
                for (const char* program : step_programs) context.kernel.detach(program, p.pid);
                return fmt::format("cannot hook {} in {}: {}", site.function, found.path, why);
            }
            where += (where.empty() ? "" : " and ") + site.function;
        }
    } catch (const Error& e) {
        for (const char* program : step_programs) context.kernel.detach(program, p.pid);
        return e.what();
    }
    if (auto* stacks = context.aggregator.stacks_of<AsyncioStacks>(p.pid)) stacks->time_steps();
    steps_hooked_++;
    context.note(fmt::format("pyasynctrace: PID {}: timing asyncio task steps (hooked at {}: about 1 us of the "
                             "target's time a step)",
                             p.pid, where));
    return "";
}

// A program imports asyncio when it likes; until it is found its stacks stay as the interpreter
// runs them, so one target is looked at often (a look reads sys.modules: a few reads).
std::chrono::milliseconds AsyncioRuntime::look_every(const Options& options) const {
    return options.mode == TargetMode::all_processes ? std::chrono::milliseconds(500) : std::chrono::milliseconds(20);
}

bool AsyncioRuntime::wanted(const Options& options) const { return !options.trace; }

std::unique_ptr<RuntimeStacks> AsyncioRuntime::make_stacks() const { return std::make_unique<AsyncioStacks>(); }

Look AsyncioRuntime::look(const PythonProcess& p, RuntimeContext& context) {
    const AsyncioDescription* description = asyncio_description_for(p.layout->major, p.layout->minor);
    if (!description) return Look::never;
    PythonObjects objects(ProcessMemory(p.pid), *p.layout);
    uint64_t modules = objects.sys_modules(p.runtime_address);
    if (!modules) return process_exists(p.pid) ? Look::not_yet : Look::never;
    asyncio_layout kernel_layout{};
    size_t n = 0;
    const auto paths = task_entry_paths(*description);
    for (const auto& path : paths) {
        uint64_t code = code_at(objects, *p.layout, modules, path);
        if (code && n < PYAT_ASYNCIO_ENTRIES) kernel_layout.task_entry_code[n++] = code;
    }
    // asyncio.events (Handle._run) comes with any use of asyncio; until then there is nothing to
    // follow. The package imports its modules one after another (events before runners): wait for
    // every entry a while, then go with those found.
    if (!kernel_layout.task_entry_code[0]) return process_exists(p.pid) ? Look::not_yet : Look::never;
    if (n < paths.size() && ++partial_looks_[p.pid] < max_partial_looks) return Look::not_yet;
    partial_looks_.erase(p.pid);
    if (const AsyncioLayout* a = find_asyncio_layout(p.layout->major, p.layout->minor))
        describe_running_tasks(objects, *p.layout, *a, modules, kernel_layout);
    if (auto why = context.kernel.set_process_entry(layouts_map, p.pid, &kernel_layout, sizeof(kernel_layout));
        !why.empty()) {
        context.note(fmt::format("pyasynctrace: cannot register PID {}'s asyncio with the BPF sampler: {}", p.pid, why));
        return Look::never;
    }
    if (auto* stacks = context.aggregator.stacks_of<AsyncioStacks>(p.pid)) stacks->follow(*description, p);
    found_++;
    context.note(fmt::format("pyasynctrace: PID {}: following asyncio tasks", p.pid));
    if (context.options.asyncio_steps)
        if (auto why = hook_steps(p, context); !why.empty()) {
            steps_missing_.push_back(fmt::format("PID {}: {}", p.pid, why));
            context.note(fmt::format("pyasynctrace: PID {}: asyncio task steps not timed ({}): its tasks' waits come "
                                     "from scans",
                                     p.pid, why));
        }
    return Look::found;
}

void AsyncioRuntime::finish(RuntimeContext& context, uint64_t) {
    for (TracedProcess* t : context.aggregator.in_order()) {
        auto* stacks = t->stacks<AsyncioStacks>();
        if (!stacks) continue;
        loop_ran_ |= stacks->loop_ran();
        const TaskScanCost& c = stacks->scan_cost();
        cost_.scans += c.scans;
        cost_.tasks_seen += c.tasks_seen;
        cost_.tasks_read += c.tasks_read;
        cost_.ns += c.ns;
        cost_.most_tasks = std::max(cost_.most_tasks, c.most_tasks);
        cost_.first_ns += c.first_ns;
        cost_.first_tasks += c.first_tasks;
        cost_.adopted += c.adopted;
        cost_.by_callback += c.by_callback;
        cost_.steps += c.steps;
        cost_.steps_unread += c.steps_unread;
        if (!stacks->unusable().empty())
            unreadable_.push_back(fmt::format("PID {}: {}", t->process.pid, stacks->unusable()));
    }
}

void AsyncioRuntime::summarize_costs(const RunEnd& end, std::vector<std::string>& lines) const {
    if (end.options.quiet || !cost_.scans) return;
    const double run_s = std::max(end.duration_s, 1e-3);
    // The first scan reads every task; the later ones only what changed, within their budget.
    const uint64_t later_ns = cost_.ns - std::min(cost_.ns, cost_.first_ns);
    const std::string between =
        cost_.adopted ? fmt::format(" and {} sampled tasks read alone between them", cost_.adopted) : std::string();
    const std::string by_callback =
        cost_.by_callback ? fmt::format("; {} samples of tasks gone or done before they were read put under the awaiter "
                                        "their callback named",
                                        cost_.by_callback)
                          : std::string();
    lines.push_back(fmt::format("pyasynctrace: asyncio: {} task scans of up to {} tasks{}: the first read {} tasks in "
                                "{:.1f} ms, the later ones {:.1f} ms ({:.2f}% of one CPU; the target pays nothing){}",
                                cost_.scans, cost_.most_tasks, between, cost_.first_tasks,
                                double(cost_.first_ns) / 1e6, double(later_ns) / 1e6,
                                100.0 * double(later_ns) / 1e9 / run_s, by_callback));
    if (steps_hooked_) {
        const uint64_t hits = end.kernel.counter(COUNTER_ASYNCIO_STEPS);
        const std::string unread =
            cost_.steps_unread ? fmt::format("; {} ended a wait no scan had read, charged at the await read before it",
                                             cost_.steps_unread)
                               : std::string();
        lines.push_back(fmt::format("pyasynctrace: asyncio: {} task steps hooked ({:.0f} a second, about 1 us of the "
                                    "target's time each){}",
                                    hits, double(hits) / run_s, unread));
    }
}

void AsyncioRuntime::summarize_misses(const RunEnd& end, std::vector<std::string>& lines) const {
    if (end.options.quiet) return;
    for (const auto& why : unreadable_)
        lines.push_back(fmt::format("pyasynctrace: warning: asyncio tasks not followed in {}", why));
    for (const auto& why : steps_missing_)
        lines.push_back(fmt::format("pyasynctrace: warning: --asyncio-steps: task steps not timed in {}", why));
}

}  // namespace pyat
