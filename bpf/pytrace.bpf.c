// SPDX-License-Identifier: GPL-2.0
/* pyasynctrace --mode trace: every call of the traced process from CPython's USDT probes.
 *
 * on_function_entry / on_function_return  function__entry and function__return (filename,
 *                 funcname, lineno): one small event each; the first time a (filename, funcname)
 *                 pointer pair shows up, its text follows in a TRACE_NAME event.
 * on_gc_start / on_gc_done  gc__start and gc__done.
 * on_return_only  CPython 3.11, whose function__entry fires only for frames entered from C:
 *                 at each return, the returning frame and the frames above it, read from the
 *                 interpreter, with how long the call ran, estimated from the thread's previous
 *                 return (the last event before the call started).
 * The runtimes' parts are in their own folders, included below: greenlet/greenlet_trace.bpf.h
 * (on_trace_greenlet_switch: which greenlet runs next, so that each keeps its own shadow stack) and
 * twisted/inline_callbacks_trace.bpf.h (@inlineCallbacks calls counted from their callers).
 * Every probe hit traps (~5 us of the target's time here): this mode is for exact counts, not for
 * production.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "lib/tracer.bpf.h" /* first: the settings lib/code_names.bpf.h needs */
#include "abi/trace.h"
#include "lib/code_names.bpf.h"
#include "lib/python_thread.bpf.h"

#include "greenlet/greenlet_trace.bpf.h"
#include "twisted/inline_callbacks_trace.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u8 yield_opcode = 0;  /* return-only mode: the interpreter's YIELD_VALUE */

/* Return-only mode: frames seen running (an event returned under them) -> when they started at
 * the latest; tid -> when its previous return happened. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 131072);
    __type(key, __u64);
    __type(value, __u64);
} frame_started SEC(".maps");
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, __u64);
} previous_return SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct trace_name);
} name_scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct trace_return);
} return_scratch SEC(".maps");

/* The scratch record to name (a, b) in, the first time the pair shows up; NULL when named before. */
static __always_inline struct trace_name *first_sight(__u32 kind, __u64 a, __u64 b, __s32 lineno)
{
    struct name_key key = {.filename = a, .funcname = b};
    if (bpf_map_lookup_elem(&names_sent, &key))
        return NULL;
    __u8 one = 1;
    bpf_map_update_elem(&names_sent, &key, &one, BPF_ANY);
    __u32 zero = 0;
    struct trace_name *n = bpf_map_lookup_elem(&name_scratch, &zero);
    if (!n)
        return NULL;
    start_call_event(&n->hdr, kind, 0, 0, a, b, lineno);
    return n;
}

static __always_inline void send_name_record(struct trace_name *n)
{
    if (bpf_ringbuf_output(&trace_events, n, sizeof(*n), wakeup_flag()))
        bump(TRACE_COUNTER_LOST);
}

/* Name a (filename, funcname) pointer pair the first time it shows up. */
static __always_inline void send_name(__u64 filename, __u64 funcname)
{
    struct trace_name *n = first_sight(TRACE_NAME, filename, funcname, 0);
    if (!n)
        return;
    if (bpf_probe_read_user_str(n->file, sizeof(n->file), (const void *)filename) < 0)
        n->file[0] = 0;
    if (bpf_probe_read_user_str(n->func, sizeof(n->func), (const void *)funcname) < 0)
        n->func[0] = 0;
    send_name_record(n);
}

static __always_inline int send_call(__u32 kind, __u32 tid, __u64 filename, __u64 funcname, __s32 lineno)
{
    send_name(filename, funcname);
    return submit_event(kind, tid, filename, funcname, lineno);
}

SEC("usdt")
int BPF_USDT(on_function_entry, void *filename, void *funcname, int lineno)
{
    __u32 tid;
    if (!traced(&tid))
        return 0;
    return send_call(TRACE_ENTRY, tid, (__u64)filename, (__u64)funcname, lineno);
}

SEC("usdt")
int BPF_USDT(on_function_return, void *filename, void *funcname, int lineno)
{
    __u32 tid;
    if (!traced(&tid))
        return 0;
    return send_call(TRACE_RETURN, tid, (__u64)filename, (__u64)funcname, lineno);
}

static __always_inline int send_gc(__u32 kind)
{
    __u32 tid;
    if (!traced(&tid))
        return 0;
    return submit_event(kind, tid, 0, 0, 0);
}

SEC("usdt")
int on_gc_start(struct pt_regs *ctx)
{
    return send_gc(TRACE_GC_START);
}

SEC("usdt")
int on_gc_done(struct pt_regs *ctx)
{
    return send_gc(TRACE_GC_DONE);
}

/* i masked into the frames array; the empty asm keeps the compiler from dropping the mask. */
static __always_inline __u32 trace_index(__u32 i)
{
    asm volatile("" : "+r"(i));
    return i & (PYAT_TRACE_FRAMES - 1);
}

/* Return-only mode: the frames of the running thread, for a return (TRACE_RETURN_ONLY: the
 * returning frame is frames[0]) or a collection starting (TRACE_GC_START: frames[0] is the call
 * it interrupts; nothing returns, so no start is estimated or forgotten). */
static __always_inline int send_frames(__u32 kind)
{
    __u32 tid;
    if (!traced(&tid))
        return 0;
    bump(TRACE_COUNTER_PROBES);
    const int returning = kind == TRACE_RETURN_ONLY;
    __u32 zero = 0;
    const struct py_process *proc = bpf_map_lookup_elem(&trace_process, &zero);
    if (!proc)
        return 0;
    const struct py_layout *l = &proc->layout;
    __u64 now = bpf_ktime_get_ns();
    __u64 *last = bpf_map_lookup_elem(&previous_return, &tid);
    __u64 before = last ? *last : now;
    if (returning)
        bpf_map_update_elem(&previous_return, &tid, &now, BPF_ANY);

    /* Built aside and copied out last, so that the names of new code objects go out before it. */
    struct trace_return *r = bpf_map_lookup_elem(&return_scratch, &zero);
    if (!r)
        return 0;
    start_call_event(&r->hdr, kind, tid, now, 0, 0, 0);
    r->frame = 0;
    r->caller_frame = 0;
    r->estimated_ns = 0;
    r->is_yield = 0;
    r->nframes = 0;
    r->truncated = 0;
    r->counted_elsewhere = 0;
    r->started_generator = 0;
    const struct trace_twisted *tw = inline_callbacks_trace(returning);

    int fault = 0;
    __u64 tstate = 0;
    __u64 frame = current_frame(proc, tid, &tstate, &fault);
    __u32 n = 0;
    int returning_generator = 0;
    for (int i = 0; i < PYAT_TRACE_FRAMES + 1; i++) {
        if (!frame || fault)
            break;
        if (i == PYAT_TRACE_FRAMES) {
            r->truncated = 1;
            break;
        }
        __u64 code = read_u64(frame + l->frame_code, &fault) & ~(__u64)l->code_ptr_tag_mask;
        __u64 previous = read_u64(frame + l->frame_previous, &fault);
        __u64 filename = read_u64(code + l->code_filename, &fault);
        __u64 name = read_u64(code + l->code_name, &fault);
        if (fault)
            break;
        if (tw)
            inline_callbacks_trace_frame(tw, l, r, frame, i, returning_generator, &code, &filename, &name);
        __u32 k = trace_index(n);
        r->frame_addresses[k] = frame;
        r->frames[k].code = code;
        r->frames[k].instr = -1;
        __u32 generation = code_generation(code, code_tag(name, filename), traced_tgid, 0);
        r->frames[k].code_tag = generation == PYAT_NOT_CODE ? 0 : generation;
        if (i == 0 && l->frame_owner) { /* a generator's own frame, not a function the machinery calls */
            __u8 owner = 0;
            returning_generator = !bpf_probe_read_user(&owner, 1, (const void *)(frame + l->frame_owner)) &&
                                  owner == PYAT_FRAME_OWNED_BY_GENERATOR;
        }
        if (i == 0 && !returning) {
            r->frame = frame;
        } else if (i == 0) {
            r->frame = frame;
            __u64 ip = read_u64(frame + l->frame_instr, &fault);
            __u8 opcode = 0;
            if (ip && !bpf_probe_read_user(&opcode, 1, (const void *)ip) && yield_opcode && opcode == yield_opcode)
                r->is_yield = 1;
            __u64 *started = bpf_map_lookup_elem(&frame_started, &frame);
            __u64 start = started ? *started : before;
            r->estimated_ns = now > start ? now - start : 0;
            bpf_map_delete_elem(&frame_started, &frame);
        } else {
            if (i == 1)
                r->caller_frame = frame;
            /* A frame first seen now has had nothing return inside it before this call: it
             * started after the thread's previous return. */
            if (returning)
                bpf_map_update_elem(&frame_started, &frame, &before, BPF_NOEXIST);
        }
        n++;
        frame = previous;
    }
    r->nframes = (__u8)n;
    if (bpf_ringbuf_output(&trace_events, r, sizeof(*r), wakeup_flag()))
        bump(TRACE_COUNTER_LOST);
    return 0;
}

SEC("usdt")
int on_return_only(struct pt_regs *ctx)
{
    return send_frames(TRACE_RETURN_ONLY);
}

/* Return-only mode: gc__start with the frames of the call the collection interrupts. */
SEC("usdt")
int on_gc_start_frames(struct pt_regs *ctx)
{
    return send_frames(TRACE_GC_START);
}
