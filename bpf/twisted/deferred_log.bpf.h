/* Deferred lifecycle log (Twisted, -o FILE.jsonl): on_python_return runs at CPython's
 * function__return USDT probe, which fires for every return, yield and unwind of the traced
 * process (~5 us of the target's time each: the log is asked for, never on by default).
 *
 * Deferred is pure Python, so its events are returns of its methods (deferred_log_layout). A call
 * that triggers others (callback() running the callbacks, addCallbacks() on a fired Deferred) is
 * logged at the first return nested in it, found by walking up from the returning frame, so the
 * log keeps the order in which calls started; a callback run by _runCallbacks is logged when it
 * returns, with how long it ran: from the thread's previous return (the last event before it
 * started) to its own.
 */
#ifndef PYAT_DEFERRED_LOG_BPF_H
#define PYAT_DEFERRED_LOG_BPF_H

#include "lib/sampler.bpf.h" /* first: the settings lib/code_names.bpf.h needs */
#include "abi/events.h"
#include "abi/maps.h"
#include "lib/code_names.bpf.h"
#include "lib/python_frames.bpf.h"
#include "lib/python_thread.bpf.h"
#include "lib/sample_records.bpf.h"
#include "twisted/deferred_log_abi.h"
#include "twisted/twisted_maps.bpf.h"

/* Frames looked at above the returning one (a power of two: indexes are masked for the verifier). */
#define PYAT_LIFECYCLE_DEPTH 16
#define LC(i) lifecycle_index(i)

/* i masked into the arrays; the empty asm keeps the compiler from dropping the mask after its
 * own range checks, which the verifier does not follow through register copies. */
static __always_inline __u32 lifecycle_index(__u32 i)
{
    asm volatile("" : "+r"(i));
    return i & (PYAT_LIFECYCLE_DEPTH - 1);
}

/* Processes whose Deferred lifecycle is logged. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 256);
    __type(key, __u32); /* tgid */
    __type(value, struct deferred_log_layout);
} deferred_log_processes SEC(".maps");

/* Launched processes watched for the import of Twisted's defer module (see deferred_import_watch). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 256);
    __type(key, __u32); /* tgid */
    __type(value, struct deferred_import_watch);
} deferred_import_watches SEC(".maps");

/* Processes watch_import stopped (SIGSTOP) and userspace has not continued yet: tgid -> when
 * (bpf_ktime_get_ns). Userspace creates it (BpfHoldMap) before its hold guard starts, and both
 * read it: whichever deletes a process's entry continues it, so a target never stays stopped
 * when the tracer dies, stops or is slow. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u64);
} kernel_holds SEC(".maps");

/* Calls already logged (or callbacks already seen running) that have not returned yet:
 * (frame, tgid) -> when the call started at the latest. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct parked_key);
    __type(value, __u64);
} deferred_calls_open SEC(".maps");

/* tid -> when its previous Python function returned. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, __u64);
} last_return_ns SEC(".maps");

/* One event the visit of a return found to log (emit_lifecycle's arguments). */
struct lifecycle_pending {
    __u64 duration;
    __u64 returned;
    __u32 i;
    __s32 what;
    __u32 outcome;
    __u32 pad;
};
/* A frame logs at most a method call and a callback run. */
#define PYAT_LIFECYCLE_PENDING (2 * PYAT_LIFECYCLE_DEPTH)

/* The returning frame and the frames above it, innermost first, and what to log about them. */
struct lifecycle_frames {
    __u64 frame[PYAT_LIFECYCLE_DEPTH];
    __u64 code[PYAT_LIFECYCLE_DEPTH];
    struct lifecycle_pending pending[PYAT_LIFECYCLE_PENDING];
    __u64 now;             /* when this return happened */
    __u64 tstate;          /* the returning thread's PyThreadState */
    __u64 previous_return; /* the thread's previous return: a lower bound of any call's start */
    __u32 tgid;
    __u32 n;
    __u32 npending;
    __u32 pad;
};
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct lifecycle_frames);
} lifecycle_scratch SEC(".maps");

/* The visit's context: pointers only (the rest is in `frames`, off the stack, whose 512 bytes a
 * call chain from on_python_return down to a frame's record must share). */
struct lifecycle_visit {
    const struct py_process *proc;
    const struct twisted_layout *twisted;
    const struct deferred_log_layout *log;
    struct lifecycle_frames *frames;
};

static __always_inline __u64 frame_local(const struct deferred_log_layout *d, __u64 frame, __u16 slot, int *fault)
{
    if (slot == DEFERRED_NO_LOCAL)
        return 0;
    return read_u64(frame + d->frame_localsplus + 8 * (__u64)slot, fault);
}

/* Is frames[i] a callback that the runner frames[i + 1] calls? Its function is the runner's
 * callback local, or that local is a bound method of it. */
static __always_inline int is_running_callback(const struct lifecycle_visit *v, __u32 i)
{
    const struct deferred_log_layout *d = v->log;
    const struct lifecycle_frames *f = v->frames;
    if (i + 1 >= PYAT_LIFECYCLE_DEPTH || i + 1 >= f->n || f->code[LC(i + 1)] != d->runner_code)
        return 0;
    int fault = 0;
    __u64 function = read_u64(f->frame[LC(i)] + d->frame_func, &fault);
    __u64 callable = frame_local(d, f->frame[LC(i + 1)], d->runner_callable, &fault);
    if (fault || !function || !callable)
        return 0;
    if (callable == function)
        return 1;
    return read_u64(callable + d->method_func, &fault) == function && !fault;
}

/* Which Deferred method frames[i] runs (enum deferred_event below DEFERRED_METHODS), or -1. */
static __always_inline int method_of(const struct lifecycle_visit *v, __u32 i)
{
    if (i >= PYAT_LIFECYCLE_DEPTH)
        return -1;
    __u64 code = v->frames->code[LC(i)];
    for (int m = 0; m < DEFERRED_METHODS; m++)
        if (code && code == v->log->method_code[m])
            return m;
    return -1;
}

/* How the callback returning now ends: raised (an exception is set while unwinding) or returned
 * (RETURN_VALUE leaves the value it popped just above the frame's stack top), maybe a Failure.
 * *value gets what it returned. */
static __always_inline __u16 callback_outcome(const struct lifecycle_visit *v, __u64 frame, __u64 *value)
{
    const struct deferred_log_layout *d = v->log;
    int fault = 0;
    *value = 0;
    if (d->tstate_exception && read_u64(v->frames->tstate + d->tstate_exception, &fault) && !fault)
        return OUTCOME_RAISED;
    __s32 top = 0;
    if (!d->frame_stacktop || bpf_probe_read_user(&top, sizeof(top), (const void *)(frame + d->frame_stacktop)) ||
        top < 0 || top > 4096)
        return OUTCOME_RETURNED;
    __u64 returned = read_u64(frame + d->frame_localsplus + 8 * (__u64)top, &fault);
    __u64 type = returned && !fault ? read_u64(returned + d->object_type, &fault) : 0;
    if (fault || !type)
        return OUTCOME_RETURNED;
    *value = returned;
    return type == d->failure_class ? OUTCOME_RETURNED_FAILURE : OUTCOME_RETURNED;
}

/* Record callable `obj` as frame idx of s (see DEFERRED_CALLABLE_TYPE); 0 on success. */
static __always_inline int record_callable(const struct py_layout *l, const struct deferred_log_layout *d,
                                           __u64 obj, struct py_sample *s, __u32 idx)
{
    int fault = 0;
    __u64 type = read_u64(obj + d->object_type, &fault);
    __u64 function = obj;
    if (!fault && type == d->method_type) {
        function = read_u64(obj + d->method_func, &fault);
        type = function ? read_u64(function + d->object_type, &fault) : 0;
    }
    if (fault || idx >= PYAT_MAX_FRAMES)
        return -1;
    if (type == d->function_type) {
        __u64 code = read_u64(function + d->func_code, &fault);
        __u64 filename = read_u64(code + l->code_filename, &fault);
        __u64 name = read_u64(code + l->code_name, &fault);
        if (!fault && code) {
            s->frames[idx].code = code;
            s->frames[idx].instr = -1;
            __u32 generation = known_code(code, code_tag(name, filename), s->hdr.pid);
            s->frames[idx].code_tag = generation ? generation : PYAT_CODE_TO_NAME;
            return 0;
        }
    }
    s->frames[idx].code = type;
    s->frames[idx].instr = DEFERRED_CALLABLE_TYPE;
    s->frames[idx].code_tag = 0;
    return 0;
}

/* Build, in scratch slot SCRATCH_DEFERRED_LOG, the record logging frames[i] of this thread's lifecycle_scratch as event
 * `what`, with the stack from that frame out; 1 when built. A global function: the verifier checks
 * it once, not at every call site (which multiplies the states of the visit past its limits), so
 * it looks its maps up again itself. It is called once the visit is over, not from inside it: a
 * call chain's stacks must fit in 512 bytes. */
__noinline int build_lifecycle(__u32 i, __s32 what, __u64 duration, __u32 outcome, __u64 returned)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, zero = 0, slot = SCRATCH_DEFERRED_LOG;
    const struct deferred_log_layout *d = bpf_map_lookup_elem(&deferred_log_processes, &tgid);
    const struct py_process *proc = bpf_map_lookup_elem(&processes, &tgid);
    const struct lifecycle_frames *f = bpf_map_lookup_elem(&lifecycle_scratch, &zero);
    struct py_sample *s = bpf_map_lookup_elem(&scratch, &slot);
    if (!d || !proc || !f || !s || i >= PYAT_LIFECYCLE_DEPTH)
        return 0;
    const struct py_layout *l = &proc->layout;
    __u64 frame = f->frame[LC(i)];
    int fault = 0;
    __u64 deferred = 0, first = 0, second = 0;
    if (what == DEFERRED_CALLBACK_RAN) {
        if (i + 1 >= PYAT_LIFECYCLE_DEPTH)
            return 0;
        __u64 runner = f->frame[LC(i + 1)];
        deferred = frame_local(d, runner, d->runner_deferred, &fault);
        first = frame_local(d, runner, d->runner_callable, &fault);
        second = returned;
    } else if (what >= 0 && what < DEFERRED_METHODS) {
        __u32 m = (__u32)what;
        asm volatile("" : "+r"(m)); /* bound-check the very register that indexes (see lifecycle_index) */
        if (m >= DEFERRED_METHODS)
            return 0;
        deferred = frame_local(d, frame, 0, &fault); /* self */
        first = frame_local(d, frame, d->first_local[m], &fault);
        second = frame_local(d, frame, d->second_local[m], &fault);
    } else {
        return 0;
    }
    if (!deferred)
        return 0;

    start_record(&s->hdr, EVENT_DEFERRED, tgid, (__u32)id, f->now);
    s->hdr.weight_ns = duration;
    s->hdr.deferred.self = deferred;
    s->hdr.deferred.first = first;
    s->hdr.deferred.second = second;
    s->hdr.deferred_detail.event = (__u8)what;
    s->hdr.deferred_detail.outcome = (__u16)outcome;
    /* The callables, then the stack; the walk's base_frame is then replaced by the result's type. */
    __u32 callables = 0;
    if (what == DEFERRED_CALLBACKS_ADDED || what == DEFERRED_CALLBACK_RAN) {
        if (first && record_callable(l, d, first, s, 0) == 0)
            callables = 1;
        if (what == DEFERRED_CALLBACKS_ADDED && callables == 1 && second && record_callable(l, d, second, s, 1) == 0)
            callables = 2;
    }
    s->hdr.deferred_detail.callables = (__u8)callables;
    walk_frames_from(proc, frame, s, callables);
    __u64 result = what == DEFERRED_CALLBACK_RAN ? second : (what == DEFERRED_FIRED || what == DEFERRED_FAILED) ? first : 0;
    s->hdr.deferred_result_type = result ? read_u64(result + d->object_type, &fault) : 0;
    return 1;
}

/* Queue an event for emit_lifecycle (in visit order, which is the order calls started). */
static __always_inline void log_later(struct lifecycle_frames *f, __u32 i, __s32 what, __u64 duration,
                                      __u32 outcome, __u64 returned)
{
    __u32 k = f->npending;
    if (k >= PYAT_LIFECYCLE_PENDING)
        return;
    asm volatile("" : "+r"(k)); /* bound the register that indexes (see lifecycle_index) */
    if (k >= PYAT_LIFECYCLE_PENDING)
        return;
    f->pending[k].i = i;
    f->pending[k].what = what;
    f->pending[k].duration = duration;
    f->pending[k].outcome = outcome;
    f->pending[k].returned = returned;
    f->npending = k + 1;
}

/* Visit frames[i]: i > 0 is a call still running (log it now if not yet), i == 0 returns now.
 * A frame can be both a method and a callback (d1.chainDeferred(d2) runs d2.callback as one of
 * d1's callbacks): the method is logged when it starts, the callback run when it returns. */
static long lifecycle_visit_step(__u32 index, void *ctx)
{
    struct lifecycle_visit *v = ctx;
    __u32 n = v->frames->n;
    if (index >= n)
        return 1;
    __u32 i = n - 1 - index; /* outermost first */
    if (i >= PYAT_LIFECYCLE_DEPTH)
        return 1;
    int method = method_of(v, i);
    int callback = is_running_callback(v, i);
    if (method < 0 && !callback)
        return 0;
    /* __init__ and the chaining step are logged when they return: nothing in them is. */
    int log_method = method >= 0 && method != DEFERRED_CREATED && method != DEFERRED_CHAINED_BY_RESULT;
    struct parked_key key = {.greenlet = v->frames->frame[LC(i)], .tgid = v->frames->tgid};
    __u64 *started = bpf_map_lookup_elem(&deferred_calls_open, &key);
    if (i > 0) {
        if (started || (!log_method && !callback))
            return 0;
        __u64 start = v->frames->previous_return;
        bpf_map_update_elem(&deferred_calls_open, &key, &start, BPF_ANY);
        if (log_method)
            log_later(v->frames, i, method, 0, 0, 0);
        return 0;
    }
    __u64 start = started ? *started : v->frames->previous_return;
    if (method >= 0 && (!started || !log_method))
        log_later(v->frames, 0, method, 0, 0, 0);
    if (callback) {
        __u64 returned = 0;
        __u16 outcome = callback_outcome(v, v->frames->frame[LC(0)], &returned);
        log_later(v->frames, 0, DEFERRED_CALLBACK_RAN, v->frames->now > start ? v->frames->now - start : 0, outcome, returned);
    }
    if (started)
        bpf_map_delete_elem(&deferred_calls_open, &key);
    return 0;
}

/* Is the returning code object the body of the watched module? Compact ASCII strings only. */
static __always_inline int is_watched_module(const struct deferred_import_watch *w, __u64 code)
{
    int fault = 0;
    __u64 name = read_u64(code + w->code_name, &fault);
    __u64 file = read_u64(code + w->code_filename, &fault);
    char text[PYAT_MODULE_SUFFIX] = {};
    if (fault || !name || !file || bpf_probe_read_user(text, 9, (const void *)(name + w->unicode_ascii_data)))
        return 0;
    const char module[9] = "<module>";
    for (int i = 0; i < 9; i++)
        if (text[i] != module[i])
            return 0;
    __s64 length = (__s64)read_u64(file + w->unicode_length, &fault);
    __u32 n = w->suffix_len;
    if (fault || n == 0 || n > PYAT_MODULE_SUFFIX || length < n)
        return 0;
    asm volatile("" : "+r"(n)); /* bound the register the read uses (see lifecycle_index) */
    if (n == 0 || n > PYAT_MODULE_SUFFIX)
        return 0;
    if (bpf_probe_read_user(text, n, (const void *)(file + w->unicode_ascii_data + length - n)))
        return 0;
    for (int i = 0; i < PYAT_MODULE_SUFFIX; i++)
        if (i < n && text[i] != w->suffix[i])
            return 0;
    return 1;
}

/* Before the layout is known: stop the process as the defer module's body returns. */
static __always_inline void watch_import(const struct py_process *proc, __u32 tgid, __u32 tid)
{
    const struct deferred_import_watch *w = bpf_map_lookup_elem(&deferred_import_watches, &tgid);
    if (!w)
        return;
    int fault = 0;
    __u64 tstate = 0;
    __u64 frame = current_frame(proc, tid, &tstate, &fault);
    __u64 code = frame ? read_u64(frame + proc->layout.frame_code, &fault) & ~(__u64)proc->layout.code_ptr_tag_mask : 0;
    if (fault || !code || !is_watched_module(w, code))
        return;
    bpf_map_delete_elem(&deferred_import_watches, &tgid);
    /* Stop, then record the hold: the process cannot stop before this program returns, so the
     * record exists by then; a process stopped without a record would be continued by no one, so
     * without one the stop is cancelled (SIGCONT discards a pending SIGSTOP). */
    __u64 stopped_at = bpf_ktime_get_ns();
    if (bpf_send_signal(19 /* SIGSTOP */) == 0 &&
        bpf_map_update_elem(&kernel_holds, &tgid, &stopped_at, BPF_ANY) != 0)
        bpf_send_signal(18 /* SIGCONT */);
    struct event_header *h = reserve_header_record(EVENT_DEFER_IMPORTED, tgid, tid, bpf_ktime_get_ns());
    if (h)
        bpf_ringbuf_submit(h, BPF_RB_FORCE_WAKEUP);
}

SEC("usdt")
int on_python_return(struct pt_regs *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    const struct deferred_log_layout *log = bpf_map_lookup_elem(&deferred_log_processes, &tgid);
    const struct py_process *proc = bpf_map_lookup_elem(&processes, &tgid);
    if (!proc)
        return 0;
    if (!log) {
        watch_import(proc, tgid, tid);
        return 0;
    }
    count(COUNTER_PYTHON_RETURNS);
    const struct py_layout *l = &proc->layout;
    __u64 now = bpf_ktime_get_ns();
    __u64 *last = bpf_map_lookup_elem(&last_return_ns, &tid);
    __u64 previous = last ? *last : now;
    bpf_map_update_elem(&last_return_ns, &tid, &now, BPF_ANY);

    __u32 zero = 0;
    struct lifecycle_frames *f = bpf_map_lookup_elem(&lifecycle_scratch, &zero);
    if (!f)
        return 0;
    int fault = 0;
    __u64 tstate = 0;
    __u64 frame = current_frame(proc, tid, &tstate, &fault);
    __u32 n = 0;
    for (int i = 0; i < PYAT_LIFECYCLE_DEPTH; i++) {
        if (!frame || fault)
            break;
        __u64 code = read_u64(frame + l->frame_code, &fault) & ~(__u64)l->code_ptr_tag_mask;
        __u64 previous_frame = read_u64(frame + l->frame_previous, &fault);
        if (fault)
            break;
        f->frame[n & (PYAT_LIFECYCLE_DEPTH - 1)] = frame;
        f->code[n & (PYAT_LIFECYCLE_DEPTH - 1)] = code;
        n++;
        frame = previous_frame;
    }
    f->n = n;
    f->npending = 0;
    f->now = now;
    if (!n)
        return 0;
    f->tstate = tstate;
    f->previous_return = previous;
    f->tgid = tgid;
    struct lifecycle_visit v = {
        .proc = proc,
        .twisted = bpf_map_lookup_elem(&twisted_processes, &tgid),
        .log = log,
        .frames = f,
    };
    bpf_loop(n, lifecycle_visit_step, &v, 0);
    __u32 slot = SCRATCH_DEFERRED_LOG;
    struct py_sample *s = bpf_map_lookup_elem(&scratch, &slot);
    if (!s)
        return 0;
    for (int k = 0; k < PYAT_LIFECYCLE_PENDING; k++) {
        if (k >= f->npending)
            break;
        const struct lifecycle_pending *p = &f->pending[k];
        if (!build_lifecycle(p->i, p->what, p->duration, p->outcome, p->returned))
            continue;
        name_new_frames(s, slot);
        /* Wake the reader at once: it names the objects logged by reading them, while they live. */
        emit_waking(s, 1);
    }
    return 0;
}

#endif
