#include "runtimes/asyncio/task_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace pyat {

namespace {
constexpr int64_t max_stack_depth = 1 << 16;  // value-stack slots believed of a frame
constexpr int64_t max_list_items = 1 << 16;

uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

uint64_t word_at(const std::vector<uint8_t>& bytes, size_t offset) {
    uint64_t v = 0;
    if (offset + 8 <= bytes.size()) std::memcpy(&v, bytes.data() + offset, 8);
    return v;
}
}  // namespace

uint64_t TaskReader::RawPosition::key() const { return mix(mix(mix(0, frame), uint64_t(state)), instr_raw); }

TaskReader::TaskReader(ProcessMemory memory, const CpythonLayout& cpython, const AsyncioLayout& asyncio,
                       CodeResolver& resolver, uint64_t py_task_class)
    : objects_(memory, cpython),
      cpython_(cpython),
      asyncio_(asyncio),
      resolver_(resolver),
      types_(memory, cpython, asyncio, py_task_class) {}

uint64_t TaskReader::frame_of(uint64_t coro) const {
    if (!coro) return 0;
    if (cpython_.gen_frame_embedded) return coro + cpython_.gen_frame;
    return objects_.read_pointer(coro + cpython_.gen_frame);
}

std::optional<TaskReader::RawPosition> TaskReader::raw_position(uint64_t coro) const {
    const ProcessMemory& mem = objects_.memory();
    const auto& b = cpython_.bpf;
    RawPosition p;
    if (cpython_.gen_frame_embedded) {
        // One read from gi_frame_state to the frame's instruction pointer.
        p.frame = coro + cpython_.gen_frame;
        uint64_t from = coro + cpython_.gen_frame_state, to = p.frame + b.frame_instr + 8;
        if (to <= from || to - from > 256) return std::nullopt;
        uint8_t raw[256];
        if (!mem.read(from, raw, to - from)) return std::nullopt;
        p.state = int8_t(raw[0]);
        std::memcpy(&p.instr_raw, raw + (p.frame + b.frame_instr - from), 8);
        return p;
    }
    p.frame = frame_of(coro);
    if (!p.frame) return std::nullopt;  // done: the frame is gone
    auto lasti = mem.read_value<int32_t>(p.frame + b.frame_instr);
    if (!lasti) return std::nullopt;
    p.instr_raw = uint64_t(int64_t(*lasti));
    if (asyncio_.frame_state) {
        auto state = mem.read_value<int8_t>(p.frame + asyncio_.frame_state);
        if (!state) return std::nullopt;
        p.state = *state;
    } else {
        auto stacktop = mem.read_value<uint64_t>(p.frame + asyncio_.frame_stack_at);
        if (!stacktop) return std::nullopt;
        p.state = *stacktop != 0;
    }
    return p;
}

std::optional<uint64_t> TaskReader::top_of_stack(const RawPosition& p) const {
    const ProcessMemory& mem = objects_.memory();
    uint64_t slot = 0;
    switch (asyncio_.frame_stack) {
    case FrameStack::stacktop_pointer: {
        uint64_t top = objects_.read_pointer(p.frame + asyncio_.frame_stack_at);
        if (top <= p.frame + 8) return std::nullopt;
        slot = top - 8;
        break;
    }
    case FrameStack::valuestack_depth: {
        uint64_t base = objects_.read_pointer(p.frame + asyncio_.frame_stack_at);
        auto depth = mem.read_value<int32_t>(p.frame + asyncio_.frame_stackdepth);
        if (!base || !depth || *depth <= 0 || *depth > max_stack_depth) return std::nullopt;
        slot = base + 8 * uint64_t(*depth - 1);
        break;
    }
    case FrameStack::stacktop_index: {
        auto top = mem.read_value<int32_t>(p.frame + asyncio_.frame_stack_at);
        if (!top || *top <= 0 || *top > max_stack_depth) return std::nullopt;
        slot = p.frame + cpython_.frame_localsplus + 8 * uint64_t(*top - 1);
        break;
    }
    case FrameStack::stackpointer: {
        uint64_t sp = objects_.read_pointer(p.frame + asyncio_.frame_stack_at);
        uint64_t base = p.frame + cpython_.frame_localsplus;
        if (sp <= base || sp - base > 8 * uint64_t(max_stack_depth)) return std::nullopt;
        slot = sp - 8;
        break;
    }
    }
    auto value = mem.read_value<uint64_t>(slot);
    if (!value) return std::nullopt;
    return *value & ~uint64_t(asyncio_.stack_tag_mask);
}

bool TaskReader::at_await(const RawPosition& p, uint64_t code) const {
    const ProcessMemory& mem = objects_.memory();
    const auto& a = asyncio_;
    switch (a.awaited_rule) {
    case AwaitedRule::yield_from: {
        // The instruction after f_lasti (in bytes: f_lasti * lasti_scale + 2) is YIELD_FROM.
        int64_t lasti = int64_t(p.instr_raw);
        if (lasti < 0) return false;
        uint64_t bytes = objects_.read_pointer(code + a.code_code);
        auto size = mem.read_value<int64_t>(bytes + cpython_.bytes_size);
        uint64_t next = uint64_t(lasti) * cpython_.bpf.lasti_scale + 2;
        if (!bytes || !size || *size < 0 || next >= uint64_t(*size)) return false;
        auto op = mem.read_value<uint8_t>(bytes + cpython_.bytes_data + next);
        return op && *op == a.yield_from_opcode;
    }
    case AwaitedRule::resume_arg: {
        // The code unit after prev_instr: RESUME (or its variant) with oparg >= 2.
        if (p.state != a.state_suspended_yield_from || !p.instr_raw) return false;
        auto unit = mem.read_value<uint16_t>(p.instr_raw + 2);
        if (!unit) return false;
        uint8_t op = uint8_t(*unit & 0xff), arg = uint8_t(*unit >> 8);
        return (op == a.resume_opcode || op == a.resume_alt_opcode) && arg >= 2;
    }
    case AwaitedRule::suspended_yield_from:
        return p.state == a.state_suspended_yield_from;
    }
    return false;
}

std::optional<CoroutineFrame> TaskReader::coroutine_frame(uint64_t coro) const {
    auto p = raw_position(coro);
    if (!p) return std::nullopt;
    const auto& b = cpython_.bpf;
    auto code = objects_.memory().read_value<uint64_t>(p->frame + b.frame_code);
    if (!code) return std::nullopt;
    CoroutineFrame f;
    f.frame = p->frame;
    f.code = *code & ~uint64_t(b.code_ptr_tag_mask);
    f.position = p->key();
    if (!f.code) return std::nullopt;
    if (b.instr_is_pointer) {
        int64_t off = int64_t(p->instr_raw - (f.code + b.code_adaptive));
        if (off >= -2 && off <= 0x7fffffff) f.instr = int32_t(off);
    } else if (int64_t(p->instr_raw) >= 0) {
        f.instr = int32_t(int64_t(p->instr_raw) * b.lasti_scale);
    }
    const auto& a = asyncio_;
    if (a.awaited_rule == AwaitedRule::yield_from && !a.frame_state)
        f.suspended = p->state != 0 && int64_t(p->instr_raw) >= 0;  // f_stacktop set, started
    else if (a.awaited_rule == AwaitedRule::yield_from)
        f.suspended = p->state == a.state_suspended && int64_t(p->instr_raw) >= 0;
    else
        f.suspended = p->state == a.state_suspended || p->state == a.state_suspended_yield_from;
    if (f.suspended && at_await(*p, f.code)) f.awaited = top_of_stack(*p).value_or(0);
    return f;
}

uint64_t TaskReader::none_to_zero(uint64_t object) {
    if (!object) return 0;
    // None (and anything else that is no asyncio object) reads as "nothing" for the attributes
    // of a pure-Python task.
    ObjectKind kind = types_.of_object(object);
    return kind == ObjectKind::other || kind == ObjectKind::unreadable ? 0 : object;
}

std::string TaskReader::task_name(uint64_t name_object) {
    switch (types_.of_object(name_object)) {
    case ObjectKind::str:
        return objects_.read_unicode(name_object);
    case ObjectKind::integer:  // 3.12+: the counter, until get_name() makes it a str
        if (auto n = objects_.read_long(name_object)) return fmt::format("{}{}", asyncio_.default_name_prefix, *n);
        return "";
    default:
        return "";
    }
}

void TaskReader::list_callbacks(uint64_t list, AsyncioTask& out) const {
    if (!list) return;
    const ProcessMemory& mem = objects_.memory();
    auto size = mem.read_value<int64_t>(list + cpython_.list_size);
    uint64_t items = objects_.read_pointer(list + cpython_.list_items);
    if (!size || *size <= 0 || *size > max_list_items || !items) return;
    size_t n = std::min<size_t>(size_t(*size), max_task_callbacks - std::min(out.callbacks.size(), max_task_callbacks));
    auto raw = mem.read_bytes(items, n * 8);
    if (!raw) return;
    for (size_t i = 0; i < n; i++) {
        uint64_t pair = word_at(*raw, i * 8);  // a (callback, context) tuple
        if (uint64_t callback = pair ? objects_.read_pointer(pair + cpython_.tuple_items) : 0)
            out.callbacks.push_back(callback);
    }
}

void TaskReader::read_callbacks(uint64_t callback0, uint64_t list, AsyncioTask& out) const {
    if (callback0) out.callbacks.push_back(callback0);
    list_callbacks(list, out);
}

std::optional<std::vector<uint8_t>> TaskReader::c_task_fields(uint64_t address, uint64_t* hash) const {
    const auto& a = asyncio_;
    size_t end = size_t(std::max({a.fut_state + 4, a.task_fut_waiter + 8, a.task_coro + 8, a.task_name + 8,
                                  a.fut_callbacks + 8, a.fut_callback0 + 8}));
    auto raw = objects_.memory().read_bytes(address, end);
    if (!raw) return std::nullopt;
    // Every word from fut_callback0 on (state, waiter, coro, name object...), and the length of
    // the callbacks list, which grows in place.
    uint64_t h = 0;
    for (size_t at = a.fut_callback0; at + 8 <= raw->size(); at += 8) h = mix(h, word_at(*raw, at));
    if (uint64_t list = word_at(*raw, a.fut_callbacks))
        h = mix(h, uint64_t(objects_.memory().read_value<int64_t>(list + cpython_.list_size).value_or(-1)));
    *hash = h;
    return raw;
}

std::optional<uint64_t> TaskReader::read_c_task(uint64_t address, AsyncioTask& out) {
    const auto& a = asyncio_;
    uint64_t hash = 0;
    auto raw = c_task_fields(address, &hash);
    if (!raw) return std::nullopt;
    int32_t state;
    std::memcpy(&state, raw->data() + a.fut_state, 4);
    if (state < 0 || state > 2) return std::nullopt;  // torn, or not a task after all
    out.state = TaskState(state);
    out.fut_waiter = word_at(*raw, a.task_fut_waiter);
    out.coro = word_at(*raw, a.task_coro);
    out.name = task_name(word_at(*raw, a.task_name));
    read_callbacks(word_at(*raw, a.fut_callback0), word_at(*raw, a.fut_callbacks), out);
    return hash;
}

std::optional<uint64_t> TaskReader::read_py_task(uint64_t address, AsyncioTask& out) {
    const auto& a = asyncio_;
    std::string state = objects_.read_unicode(objects_.instance_attribute(address, a.py_future_state));
    if (state == a.py_state_pending)
        out.state = TaskState::pending;
    else if (state == a.py_state_cancelled)
        out.state = TaskState::cancelled;
    else if (state == a.py_state_finished)
        out.state = TaskState::finished;
    else
        return std::nullopt;
    out.coro = objects_.instance_attribute(address, a.py_task_coro);
    out.fut_waiter = none_to_zero(objects_.instance_attribute(address, a.py_task_fut_waiter));
    uint64_t name = objects_.instance_attribute(address, a.py_task_name);
    out.name = task_name(name);
    uint64_t callbacks = objects_.instance_attribute(address, a.py_future_callbacks);
    list_callbacks(callbacks, out);
    uint64_t hash = mix(mix(mix(mix(0, uint64_t(out.state)), out.fut_waiter), out.coro), name);
    return mix(hash, out.callbacks.size());
}

std::pair<uint64_t, uint64_t> TaskReader::walk_await_chain(AsyncioTask& task, uint64_t* outer_position) {
    uint64_t gen = task.coro, inner = 0, inner_position = 0;
    for (int depth = 0; depth < max_await_depth && gen; depth++) {
        auto f = coroutine_frame(gen);
        if (!f) break;
        if (depth == 0) *outer_position = f->position;
        if (!f->suspended) break;  // running, not started yet, or done
        uint32_t generation = resolver_.learn_from_memory(f->code);
        if (!generation) break;
        task.await_frames.push_back({f->code, f->instr, generation});
        inner = gen;
        inner_position = f->position;
        if (!f->awaited) break;  // a plain yield (asyncio.sleep(0), a bare Future.__await__)
        uint64_t awaited = f->awaited;
        switch (types_.of_object(awaited)) {
        case ObjectKind::coroutine:
            gen = awaited;
            continue;
        case ObjectKind::coroutine_wrapper:
            gen = objects_.read_pointer(awaited + asyncio_.coro_wrapper_coroutine);
            continue;
        case ObjectKind::asend:
            gen = objects_.read_pointer(awaited + asyncio_.asend_gen);
            continue;
        case ObjectKind::future_iter:
            awaited = objects_.read_pointer(awaited + asyncio_.futureiter_future);
            break;
        default:
            break;
        }
        task.leaf_object = awaited;
        switch (types_.of_object(awaited)) {
        case ObjectKind::c_task:
        case ObjectKind::py_task: task.leaf = AwaitLeaf::task; break;
        case ObjectKind::gathering: task.leaf = AwaitLeaf::gathering; break;
        case ObjectKind::future: task.leaf = AwaitLeaf::future; break;
        case ObjectKind::unreadable: task.leaf = AwaitLeaf::none, task.leaf_object = 0; break;
        default: task.leaf = AwaitLeaf::other; break;
        }
        break;
    }
    // A chain that ends at a plain yield while the task waits on a future (a pure-Python Future's
    // __await__ yields itself): the task's own fut_waiter is the leaf.
    if (task.leaf == AwaitLeaf::none && task.fut_waiter && !task.await_frames.empty()) {
        switch (types_.of_object(task.fut_waiter)) {
        case ObjectKind::c_task:
        case ObjectKind::py_task: task.leaf = AwaitLeaf::task; break;
        case ObjectKind::gathering: task.leaf = AwaitLeaf::gathering; break;
        case ObjectKind::future: task.leaf = AwaitLeaf::future; break;
        default: break;
        }
        if (task.leaf != AwaitLeaf::none) task.leaf_object = task.fut_waiter;
    }
    return {inner, inner_position};
}

std::optional<AsyncioTask> TaskReader::read(uint64_t address, TaskSnapshot* snapshot) {
    AsyncioTask task;
    task.address = address;
    std::optional<uint64_t> hash;
    switch (types_.of_object(address)) {
    case ObjectKind::c_task: hash = read_c_task(address, task); break;
    case ObjectKind::py_task: hash = read_py_task(address, task); break;
    default: return std::nullopt;
    }
    if (!hash) return std::nullopt;
    uint64_t outer_position = 0;
    std::pair<uint64_t, uint64_t> inner{0, 0};
    if (types_.of_object(task.coro) == ObjectKind::coroutine) {
        task.coro_frame = frame_of(task.coro);
        task.coro_function = objects_.read_unicode(objects_.read_pointer(task.coro + asyncio_.gen_qualname));
        if (task.state == TaskState::pending) inner = walk_await_chain(task, &outer_position);
    }
    if (snapshot) *snapshot = {address, task.coro, *hash, outer_position, inner.first, inner.second, true};
    return task;
}

std::optional<uint64_t> TaskReader::fields_hash(uint64_t address) {
    switch (types_.of_object(address)) {
    case ObjectKind::c_task: {
        uint64_t hash = 0;
        if (!c_task_fields(address, &hash)) return std::nullopt;
        return hash;
    }
    case ObjectKind::py_task: {
        AsyncioTask scratch;
        return read_py_task(address, scratch);
    }
    default: return std::nullopt;
    }
}

bool TaskReader::changed(const TaskSnapshot& s) {
    if (!s.valid) return true;
    auto hash = fields_hash(s.task);
    if (!hash || *hash != s.fields_hash) return true;
    if (!s.outer_position) return false;  // done, or no CPython frame: the fields say it all
    auto outer = raw_position(s.coro);
    if (!outer || outer->key() != s.outer_position) return true;
    if (s.inner_coro && s.inner_coro != s.coro) {
        auto inner = raw_position(s.inner_coro);
        if (!inner || inner->key() != s.inner_position) return true;
    }
    return false;
}

}  // namespace pyat
