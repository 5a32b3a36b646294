#include "cpython/python_stack_reader.h"

#include <fmt/format.h>

#include <filesystem>

#include "cpython/code_resolver.h"
#include "process/namespace_tids.h"
#include "process/process_memory.h"
#include "cpython/thread_names.h"

namespace pyat {

namespace {
constexpr int max_threads = PYAT_MAX_THREADS;

}  // namespace

// Mirrors frame_walk_step() in bpf/lib/python_frames.bpf.h.
void read_stack_from(const ProcessMemory& mem, const py_layout& l, uint64_t frame, py_sample& s,
                     CodeResolver& resolver) {
    uint16_t n = 0;
    uint64_t last = 0;
    bool fault = false;
    s.hdr.base_frame = 0;
    for (int i = 0; i < 2 * PYAT_MAX_FRAMES && frame; i++) {
        if (n >= PYAT_MAX_FRAMES) {
            s.hdr.flags |= SAMPLE_TRUNCATED;
            break;
        }
        auto code = mem.read_value<uint64_t>(frame + l.frame_code);
        auto previous = mem.read_value<uint64_t>(frame + l.frame_previous);
        if (!code || !previous) {
            s.hdr.flags |= SAMPLE_READ_FAULT;
            fault = true;
            break;
        }
        uint64_t this_frame = frame;
        frame = *previous;
        last = this_frame;
        uint64_t c = *code & ~uint64_t(l.code_ptr_tag_mask);
        if (!c) continue;
        if (l.frame_owner && l.owner_skip_min != 0xff) {
            auto owner = mem.read_value<uint8_t>(this_frame + l.frame_owner);
            if (owner && *owner >= l.owner_skip_min) continue;
        }
        if (resolver.interpreter_shim(c)) continue;
        uint32_t generation = resolver.learn_from_memory(c);
        if (!generation) {
            s.hdr.flags |= SAMPLE_READ_FAULT;
            fault = true;
            break;
        }
        int32_t instr = -1;
        if (l.instr_is_pointer) {
            if (auto ip = mem.read_value<uint64_t>(this_frame + l.frame_instr)) {
                int64_t off = int64_t(*ip - (c + l.code_adaptive));
                if (off >= -2 && off <= 0x7fffffff) instr = int32_t(off);
            }
        } else if (auto lasti = mem.read_value<int32_t>(this_frame + l.frame_instr); lasti && *lasti >= 0) {
            instr = *lasti * l.lasti_scale;
        }
        s.frames[n++] = {c, instr, generation};
    }
    s.hdr.nframes = n;
    if (!fault && !frame) s.hdr.base_frame = last;
}

namespace {
// Mirrors walk_python_stack() in bpf/lib/python_frames.bpf.h.
void walk_frames(const ProcessMemory& mem, const py_layout& l, uint64_t tstate, py_sample& s,
                 CodeResolver& resolver) {
    uint64_t frame = 0;
    if (l.current_frame_kind == CURRENT_FRAME_VIA_CFRAME) {
        uint64_t cframe = mem.read_value<uint64_t>(tstate + l.tstate_cframe).value_or(0);
        frame = cframe ? mem.read_value<uint64_t>(cframe + l.cframe_current_frame).value_or(0) : 0;
    } else {
        frame = mem.read_value<uint64_t>(tstate + l.tstate_frame).value_or(0);
    }
    read_stack_from(mem, l, frame, s, resolver);
}

// glibc's struct pthread keeps the kernel TID at this offset (x86_64, glibc 2.26 to 2.40);
// only used before 3.11 for threads threading does not know, and checked against /proc.
constexpr uint64_t glibc_pthread_tid_offset = 0x2d0;

// The host TID of a thread state: native_thread_id (3.11+), else through its pthread id. Both
// are the TID as the process's own PID namespace numbers it: mapped to the host's.
uint32_t tid_of(const ProcessMemory& mem, const py_layout& l, uint64_t tstate, const ThreadNames& names,
                const NamespaceTids& tids) {
    if (l.tstate_native_thread_id)
        return tids.host_tid(uint32_t(mem.read_value<uint64_t>(tstate + l.tstate_native_thread_id).value_or(0)));
    uint64_t pthread = mem.read_value<uint64_t>(tstate + l.tstate_thread_id).value_or(0);
    if (!pthread) return 0;
    if (uint32_t tid = names.tid_of_ident(pthread)) return tid;  // already the host's
    auto tid = mem.read_value<int32_t>(pthread + glibc_pthread_tid_offset);
    if (!tid || *tid <= 0) return 0;
    uint32_t host = tids.host_tid(uint32_t(*tid));
    if (!host || !std::filesystem::exists(fmt::format("/proc/{}/task/{}", mem.pid(), host))) return 0;
    return host;
}
}  // namespace

std::map<uint32_t, std::unique_ptr<py_sample>> read_thread_stacks(const PythonProcess& process,
                                                                  CodeResolver& resolver) {
    std::map<uint32_t, std::unique_ptr<py_sample>> stacks;
    const py_layout& l = process.layout->bpf;
    ProcessMemory mem(process.pid);
    ThreadNames names(mem, *process.layout, process.runtime_address);
    if (!l.tstate_native_thread_id) names.refresh();
    NamespaceTids tids(process.pid);
    uint64_t interp = mem.read_value<uint64_t>(process.runtime_address + l.runtime_interpreters_head).value_or(0);
    uint64_t tstate = interp ? mem.read_value<uint64_t>(interp + l.interp_threads_head).value_or(0) : 0;
    for (int i = 0; i < max_threads && tstate; i++) {
        uint32_t tid = tid_of(mem, l, tstate, names, tids);
        if (!tid) {
            tstate = mem.read_value<uint64_t>(tstate + l.tstate_next).value_or(0);
            continue;
        }
        auto s = std::make_unique<py_sample>();
        s->hdr.kind = EVENT_OFFCPU;
        s->hdr.pid = uint32_t(process.pid);
        s->hdr.tid = tid;
        walk_frames(mem, l, tstate, *s, resolver);
        // A thread starting another shares its id with the new thread's state until that runs:
        // the state with frames is the thread's own.
        auto& kept = stacks[tid];
        if (!kept || kept->hdr.nframes == 0) kept = std::move(s);
        tstate = mem.read_value<uint64_t>(tstate + l.tstate_next).value_or(0);
    }
    return stacks;
}

}  // namespace pyat
