#include "runtimes/asyncio/task_reader.h"

#include <fmt/format.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace pyat {

namespace {
constexpr int64_t max_stack_depth = 1 << 16;  // value-stack slots believed of a frame
constexpr int64_t max_list_items = 1 << 16;
constexpr size_t max_known_code = 100'000;  // code objects remembered by name and file

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
        // One read covering gi_frame_state and the frame's code, instruction and stack top.
        p.frame = coro + cpython_.gen_frame;
        uint64_t state_at = coro + cpython_.gen_frame_state, code_at = p.frame + b.frame_code,
                 instr_at = p.frame + b.frame_instr, stack_at = p.frame + asyncio_.frame_stack_at;
        uint64_t from = std::min({state_at, code_at, instr_at, stack_at});
        uint64_t to = std::max({state_at + 1, code_at + 8, instr_at + 8, stack_at + 8});
        uint8_t raw[256];
        if (to - from > sizeof(raw) || !mem.read(from, raw, to - from)) return std::nullopt;
        p.state = int8_t(raw[state_at - from]);
        std::memcpy(&p.instr_raw, raw + (instr_at - from), 8);
        std::memcpy(&p.code_word, raw + (code_at - from), 8);
        std::memcpy(&p.stack_word, raw + (stack_at - from), 8);
        p.words_read = true;
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
        auto top = p.words_read ? std::optional<int32_t>(int32_t(p.stack_word))
                                : mem.read_value<int32_t>(p.frame + asyncio_.frame_stack_at);
        if (!top || *top <= 0 || *top > max_stack_depth) return std::nullopt;
        slot = p.frame + cpython_.frame_localsplus + 8 * uint64_t(*top - 1);
        break;
    }
    case FrameStack::stackpointer: {
        uint64_t sp = p.words_read ? p.stack_word : objects_.read_pointer(p.frame + asyncio_.frame_stack_at);
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
    auto code = p->words_read ? std::optional<uint64_t>(p->code_word)
                              : objects_.memory().read_value<uint64_t>(p->frame + b.frame_code);
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

int64_t TaskReader::list_callbacks(uint64_t list, AsyncioTask& out) const {
    if (!list) return -1;
    const ProcessMemory& mem = objects_.memory();
    // ob_size and ob_item are neighbours: one read.
    uint64_t from = std::min(cpython_.list_size, cpython_.list_items);
    auto header = mem.read_bytes(list + from, std::max(cpython_.list_size, cpython_.list_items) + 8 - from);
    if (!header) return -1;
    auto size = std::optional<int64_t>(int64_t(word_at(*header, cpython_.list_size - from)));
    uint64_t items = word_at(*header, cpython_.list_items - from);
    if (*size <= 0 || *size > max_list_items || !items) return *size;
    size_t n = std::min<size_t>(size_t(*size), max_task_callbacks - std::min(out.callbacks.size(), max_task_callbacks));
    auto raw = mem.read_bytes(items, n * 8);
    if (!raw) return *size;
    for (size_t i = 0; i < n; i++) {
        uint64_t pair = word_at(*raw, i * 8);  // a (callback, context) tuple
        if (uint64_t callback = pair ? objects_.read_pointer(pair + cpython_.tuple_items) : 0)
            out.callbacks.push_back(callback);
    }
    return *size;
}

size_t TaskReader::c_task_bytes() const {
    const auto& a = asyncio_;
    return size_t(std::max({a.fut_state + 4, a.task_fut_waiter + 8, a.task_coro + 8, a.task_name + 8,
                            a.fut_callbacks + 8, a.fut_callback0 + 8}));
}

std::optional<std::vector<uint8_t>> TaskReader::c_task_fields(uint64_t address) const {
    return objects_.memory().read_bytes(address, c_task_bytes());
}

uint64_t TaskReader::c_task_hash(const uint8_t* fields, size_t size, int64_t callbacks_length) const {
    // Every word from fut_callback0 on (state, waiter, coro, name object...), and the length of
    // the callbacks list, which grows in place.
    uint64_t h = 0;
    for (size_t at = asyncio_.fut_callback0; at + 8 <= size; at += 8) {
        uint64_t word;
        std::memcpy(&word, fields + at, 8);
        h = mix(h, word);
    }
    return mix(h, uint64_t(callbacks_length));
}

std::optional<uint64_t> TaskReader::read_c_task(uint64_t address, AsyncioTask& out, uint64_t* callbacks_list) {
    const auto& a = asyncio_;
    auto raw = c_task_fields(address);
    if (!raw) return std::nullopt;
    int32_t state;
    std::memcpy(&state, raw->data() + a.fut_state, 4);
    if (state < 0 || state > 2) return std::nullopt;  // torn, or not a task after all
    out.state = TaskState(state);
    out.fut_waiter = word_at(*raw, a.task_fut_waiter);
    out.coro = word_at(*raw, a.task_coro);
    out.name = task_name(word_at(*raw, a.task_name));
    if (uint64_t callback0 = word_at(*raw, a.fut_callback0)) out.callbacks.push_back(callback0);
    *callbacks_list = word_at(*raw, a.fut_callbacks);
    int64_t length = list_callbacks(*callbacks_list, out);
    return c_task_hash(raw->data(), raw->size(), length);
}

uint64_t TaskReader::attribute(uint64_t object, const char* name) const {
    if (uint64_t value = objects_.instance_attribute(object, name)) return value;
    // Not set on the instance: the class default (_PyFuture's `_state = _PENDING`, `_fut_waiter = None`).
    uint64_t type = objects_.read_pointer(object + cpython_.object_type);
    for (int depth = 0; depth < 32 && type; depth++) {
        if (uint64_t value = objects_.dict_get(objects_.read_pointer(type + cpython_.type_dict), name)) return value;
        type = objects_.read_pointer(type + asyncio_.type_base);
    }
    return 0;
}

std::optional<uint64_t> TaskReader::read_py_task(uint64_t address, AsyncioTask& out) {
    const auto& a = asyncio_;
    std::string state = objects_.read_unicode(attribute(address, a.py_future_state));
    if (state == a.py_state_pending)
        out.state = TaskState::pending;
    else if (state == a.py_state_cancelled)
        out.state = TaskState::cancelled;
    else if (state == a.py_state_finished)
        out.state = TaskState::finished;
    else
        return std::nullopt;
    out.coro = objects_.instance_attribute(address, a.py_task_coro);
    out.fut_waiter = none_to_zero(attribute(address, a.py_task_fut_waiter));
    uint64_t name = objects_.instance_attribute(address, a.py_task_name);
    out.name = task_name(name);
    uint64_t callbacks = objects_.instance_attribute(address, a.py_future_callbacks);
    int64_t length = list_callbacks(callbacks, out);
    uint64_t hash = mix(mix(mix(mix(0, uint64_t(out.state)), out.fut_waiter), out.coro), name);
    return mix(mix(hash, callbacks), uint64_t(length));
}

uint32_t TaskReader::generation_of(uint64_t code) {
    // A live coroutine's frame holds its code object: while its name and file pointers are those
    // read before, it is the object named then (the kernel's code_tag rule).
    const auto& b = cpython_.bpf;
    // co_filename and co_name are neighbours in every version: one read.
    uint64_t from = std::min(b.code_name, b.code_filename), to = std::max(b.code_name, b.code_filename) + 8;
    uint8_t raw[64];
    if (to - from > sizeof(raw) || !objects_.memory().read(code + from, raw, to - from)) return 0;
    auto name = std::optional<uint64_t>(), file = std::optional<uint64_t>();
    uint64_t word;
    std::memcpy(&word, raw + (b.code_name - from), 8);
    name = word;
    std::memcpy(&word, raw + (b.code_filename - from), 8);
    file = word;
    uint64_t tag = (uint64_t(code_tag(*name, *file)) << 32) ^ *name ^ (*file << 1);
    if (auto it = known_code_.find(code); it != known_code_.end() && it->second.name_and_file == tag)
        return it->second.generation;
    uint32_t generation = resolver_.learn_from_memory(code);
    if (!generation) return 0;
    if (known_code_.size() >= max_known_code) known_code_.clear();
    known_code_[code] = {tag, generation};
    return generation;
}

TaskReader::ChainEnds TaskReader::walk_await_chain(AsyncioTask& task) {
    ChainEnds ends;
    uint64_t gen = task.coro;
    for (int depth = 0; depth < max_await_depth && gen; depth++) {
        auto f = coroutine_frame(gen);
        if (!f) break;
        if (depth == 0) ends.outer_position = f->position;
        if (!f->suspended) break;  // running, not started yet, or done
        uint32_t generation = generation_of(f->code);
        if (!generation) break;
        task.await_frames.push_back({f->code, f->instr, generation});
        ends.inner_coro = gen;
        ends.inner_frame = f->frame;
        ends.inner_position = f->position;
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
    return ends;
}

std::optional<AsyncioTask> TaskReader::read(uint64_t address, TaskSnapshot* snapshot) {
    AsyncioTask task;
    task.address = address;
    std::optional<uint64_t> hash;
    uint64_t callbacks_list = 0;
    ObjectKind kind = types_.of_object(address);
    bool is_c_task = kind == ObjectKind::c_task;
    switch (kind) {
    case ObjectKind::c_task: hash = read_c_task(address, task, &callbacks_list); break;
    case ObjectKind::py_task: hash = read_py_task(address, task); break;
    default: return std::nullopt;
    }
    if (!hash) return std::nullopt;
    ChainEnds ends;
    if (types_.of_object(task.coro) == ObjectKind::coroutine) {
        task.coro_frame = frame_of(task.coro);
        if (task.coro_frame)
            task.coro_code = objects_.read_pointer(task.coro_frame + cpython_.bpf.frame_code) &
                             ~uint64_t(cpython_.bpf.code_ptr_tag_mask);
        task.coro_function = objects_.read_unicode(objects_.read_pointer(task.coro + asyncio_.gen_qualname));
        if (task.state == TaskState::pending) ends = walk_await_chain(task);
    }
    if (snapshot) {
        TaskSnapshot& s = *snapshot;
        s = {};
        s.task = address;
        s.pure_python = !is_c_task;
        s.callbacks_list = callbacks_list;
        s.fields_hash = *hash;
        s.coro = task.coro;
        s.outer_frame = task.coro_frame;
        s.outer_code = task.coro_code;
        s.outer_position = ends.outer_position;
        s.inner_coro = ends.inner_coro;
        s.inner_frame = ends.inner_frame;
        s.inner_position = ends.inner_position;
        s.valid = true;
    }
    return task;
}

namespace {
// Up to max_ranges ranges of the target read by one process_vm_readv.
class Batch {
public:
    size_t add(uint64_t address, size_t size) {
        size_t at = used_;
        if (count_ == max_ranges || used_ + size > sizeof(buffer_) || !address) {
            ok_ = false;
            return 0;
        }
        local_[count_] = {buffer_ + used_, size};
        remote_[count_] = {reinterpret_cast<void*>(address), size};
        count_++;
        used_ += size;
        return at;
    }
    bool read(pid_t pid) {
        return ok_ && process_vm_readv(pid, local_, count_, remote_, count_, 0) == ssize_t(used_);
    }
    template <typename T>
    T at(size_t offset) const {
        T value;
        std::memcpy(&value, buffer_ + offset, sizeof(T));
        return value;
    }
    const uint8_t* data(size_t offset) const { return buffer_ + offset; }

private:
    uint8_t buffer_[1024];
    static constexpr size_t max_ranges = 12;  // a C task, its callbacks, its code, two frames of three
    iovec local_[max_ranges], remote_[max_ranges];
    unsigned long count_ = 0;
    size_t used_ = 0;
    bool ok_ = true;
};
}  // namespace

bool TaskReader::changed_c_task(const TaskSnapshot& s) const {
    const auto& b = cpython_.bpf;
    const auto& a = asyncio_;
    Batch batch;
    size_t fields = batch.add(s.task, c_task_bytes());
    size_t list = s.callbacks_list ? batch.add(s.callbacks_list + cpython_.list_size, 8) : 0;
    // The coroutine's code: a task and its coroutine freed and made again at the same addresses
    // (gather children, one after another) can match every field, not the code they run.
    size_t code = s.outer_frame ? batch.add(s.outer_frame + b.frame_code, 8) : 0;
    // Each coroutine's state and instruction, as raw_position() reads them.
    struct Where {
        uint64_t coro, frame;
        size_t span = 0, frame_pointer = 0, lasti = 0, state = 0;
    } where[2] = {{s.coro, s.outer_frame}, {s.inner_coro, s.inner_frame}};
    // No frame position (done, or no CPython frame): the fields say it all.
    int coroutines = !s.outer_position ? 0 : s.inner_coro && s.inner_coro != s.coro ? 2 : 1;
    for (int i = 0; i < coroutines; i++) {
        Where& w = where[i];
        if (cpython_.gen_frame_embedded) {
            w.span = batch.add(w.coro + cpython_.gen_frame_state,
                               size_t(cpython_.gen_frame + b.frame_instr + 8 - cpython_.gen_frame_state));
        } else {
            w.frame_pointer = batch.add(w.coro + cpython_.gen_frame, 8);
            w.lasti = batch.add(w.frame + b.frame_instr, 4);
            w.state = a.frame_state ? batch.add(w.frame + a.frame_state, 1) : batch.add(w.frame + a.frame_stack_at, 8);
        }
    }
    if (!batch.read(objects_.memory().pid())) return true;
    int64_t length = s.callbacks_list ? batch.at<int64_t>(list) : -1;
    if (c_task_hash(batch.data(fields), c_task_bytes(), length) != s.fields_hash) return true;
    if (s.outer_frame && (batch.at<uint64_t>(code) & ~uint64_t(b.code_ptr_tag_mask)) != s.outer_code) return true;
    uint64_t positions[2] = {s.outer_position, s.inner_position};
    for (int i = 0; i < coroutines; i++) {
        const Where& w = where[i];
        RawPosition p;
        if (cpython_.gen_frame_embedded) {
            p.frame = w.coro + cpython_.gen_frame;
            p.state = batch.at<int8_t>(w.span);
            p.instr_raw = batch.at<uint64_t>(w.span + (p.frame + b.frame_instr - (w.coro + cpython_.gen_frame_state)));
        } else {
            p.frame = batch.at<uint64_t>(w.frame_pointer);
            if (p.frame != w.frame) return true;
            p.instr_raw = uint64_t(int64_t(batch.at<int32_t>(w.lasti)));
            p.state = a.frame_state ? int64_t(batch.at<int8_t>(w.state)) : int64_t(batch.at<uint64_t>(w.state) != 0);
        }
        if (p.key() != positions[i]) return true;
    }
    return false;
}

bool TaskReader::changed(const TaskSnapshot& s) {
    if (!s.valid) return true;
    if (!s.pure_python) {
        return changed_c_task(s);
    }
    AsyncioTask scratch;
    auto hash = read_py_task(s.task, scratch);
    if (!hash || *hash != s.fields_hash) return true;
    if (!s.outer_position) return false;
    auto outer = raw_position(s.coro);
    if (!outer || outer->key() != s.outer_position) return true;
    if (s.inner_coro && s.inner_coro != s.coro) {
        auto inner = raw_position(s.inner_coro);
        if (!inner || inner->key() != s.inner_position) return true;
    }
    return false;
}

}  // namespace pyat
