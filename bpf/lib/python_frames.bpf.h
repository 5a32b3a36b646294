/* Walking a CPython thread's frame chain from BPF.
 * Everything here reads the *current* task's user memory, so callers run in the
 * context of the thread being walked (perf-event sample, or sched_switch's prev). */
#ifndef PYAT_PYTHON_FRAMES_BPF_H
#define PYAT_PYTHON_FRAMES_BPF_H

#include "abi/events.h"
#include "twisted/twisted_abi.h"
#include "lib/code_names.bpf.h"

/* tid -> PyThreadState* cache; entries are re-validated on every use. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, __u64);
} tstate_cache SEC(".maps");

static __always_inline __u64 read_u64(__u64 addr, int *fault)
{
    __u64 v = 0;
    if (bpf_probe_read_user(&v, sizeof(v), (const void *)addr))
        *fault = 1;
    return v;
}

/* The running thread's TID as its innermost PID namespace numbers it: what gettid() returned to
 * it, hence what CPython stored in native_thread_id. Inside a container (a PID namespace of its
 * own) that differs from the kernel's global TID; elsewhere it is the same. 0 if unreadable. */
static __always_inline __u32 namespaced_tid(struct task_struct *task)
{
    struct pid *pid = BPF_CORE_READ(task, thread_pid);
    if (!pid)
        return 0;
    unsigned int level = BPF_CORE_READ(pid, level);
    return (__u32)BPF_CORE_READ(pid, numbers[level].nr);
}

/* Does this PyThreadState belong to the running thread? `ns_tid`: its namespaced TID. */
static __always_inline int tstate_is_current(const struct py_layout *l, __u64 tstate, __u32 ns_tid,
                                             __u64 fsbase)
{
    int fault = 0;
    if (l->tstate_native_thread_id) {
        __u64 native = read_u64(tstate + l->tstate_native_thread_id, &fault);
        return !fault && ns_tid && (__u32)native == ns_tid;
    }
    __u64 pthread_id = read_u64(tstate + l->tstate_thread_id, &fault);
    return !fault && pthread_id == fsbase;
}

/* A thread state's innermost frame (0: none). */
static __always_inline __u64 tstate_top_frame(const struct py_layout *l, __u64 tstate, int *fault)
{
    if (l->current_frame_kind == CURRENT_FRAME_VIA_CFRAME) {
        __u64 cframe = read_u64(tstate + l->tstate_cframe, fault);
        return cframe ? read_u64(cframe + l->cframe_current_frame, fault) : 0;
    }
    return read_u64(tstate + l->tstate_frame, fault);
}

/* Two thread states can claim one thread: a thread starting another creates the new one's
 * state, which carries the creator's thread id (3.8-3.11) until the new thread runs. The
 * creator's own is the one with frames; a match without any is kept only if no other matches. */
struct thread_search {
    const struct py_layout *layout;
    __u64 tstate;  /* candidate; the match when found */
    __u64 frameless; /* the first match that had no frame */
    __u64 fsbase;
    __u32 ns_tid;
    int found;
};

static long thread_search_step(__u32 index, void *ctx)
{
    struct thread_search *t = ctx;
    int fault = 0;
    if (!t->tstate)
        return 1;
    if (tstate_is_current(t->layout, t->tstate, t->ns_tid, t->fsbase)) {
        if (tstate_top_frame(t->layout, t->tstate, &fault) || fault) {
            t->found = 1;
            return 1;
        }
        if (!t->frameless)
            t->frameless = t->tstate;
    }
    t->tstate = read_u64(t->tstate + t->layout->tstate_next, &fault);
    return fault ? 1 : 0;
}

/* The running thread's PyThreadState, or 0 when it has none. `tid`: its global TID (the cache's
 * key); the thread state is matched by the TID the thread itself sees (see namespaced_tid). */
static __always_inline __u64 find_thread_state(const struct py_process *proc, __u32 tid)
{
    const struct py_layout *l = &proc->layout;
    struct task_struct *task = bpf_get_current_task_btf();
    __u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
    __u32 ns_tid = l->tstate_native_thread_id ? namespaced_tid(task) : 0;

    __u64 *cached = bpf_map_lookup_elem(&tstate_cache, &tid);
    int fault = 0;
    if (cached && *cached && tstate_is_current(l, *cached, ns_tid, fsbase) &&
        (tstate_top_frame(l, *cached, &fault) || fault))
        return *cached;

    fault = 0;
    __u64 interp = read_u64(proc->runtime_addr + l->runtime_interpreters_head, &fault);
    if (fault || !interp)
        return 0;
    struct thread_search search = {
        .layout = l,
        .tstate = read_u64(interp + l->interp_threads_head, &fault),
        .fsbase = fsbase,
        .ns_tid = ns_tid,
    };
    if (fault)
        return 0;
    bpf_loop(PYAT_MAX_THREADS, thread_search_step, &search, 0);
    if (!search.found) {
        if (!search.frameless)
            return 0;
        search.tstate = search.frameless;
    }
    bpf_map_update_elem(&tstate_cache, &tid, &search.tstate, BPF_ANY);
    return search.tstate;
}

struct frame_walk {
    const struct py_process *proc;
    const struct py_layout *layout;
    const struct twisted_layout *twisted; /* NULL: the process has not imported Twisted's defer */
    struct py_sample *sample;
    __u64 frame;
    __u64 last;  /* the last frame visited */
    __u64 inline_callbacks_frame; /* the frame just recorded, when it ran _inlineCallbacks */
    __u64 resumed_frame; /* innermost _inlineCallbacks frame called by the awaiter: a resumption */
    __u32 inline_callbacks_index;
    __u32 resumed_index;
    __u32 n;
    int fault;
};

/* Record one frame (code already untagged) as sample frame `at & 0xffff` of process `proc`; a code
 * object seen for the first time is marked PYAT_CODE_TO_NAME, for name_new_frames to name once the
 * walk is over. 0 on success; -1 when the frame cannot be read or its code is no code object (a
 * frame being set up or torn down): the walk ends there. A global function (the verifier checks it
 * once, with unknown arguments): inlined, the walk's frame count would have to be tracked exactly,
 * and the verifier would explore the walk once per count. */
__noinline int record_frame(const struct py_process *proc, __u64 frame, __u64 code, struct py_sample *s, __u32 at)
{
    __u32 idx = at & 0xffff;
    if (!proc || !s)
        return -1;
    const struct py_layout *l = &proc->layout;
    int fault = 0;
    __u64 filename = read_u64(code + l->code_filename, &fault);
    __u64 name = read_u64(code + l->code_name, &fault);
    if (fault)
        return -1;
    __s32 instr = -1;
    if (l->instr_is_pointer) {
        __u64 ip = read_u64(frame + l->frame_instr, &fault);
        __s64 off = (__s64)(ip - (code + l->code_adaptive));
        if (!fault && off >= -2 && off <= 0x7fffffff)
            instr = (__s32)off;
    } else {
        __s32 lasti = 0;
        if (bpf_probe_read_user(&lasti, sizeof(lasti), (const void *)(frame + l->frame_instr)) == 0 &&
            lasti >= 0)
            instr = lasti * l->lasti_scale;
    }
    if (idx >= PYAT_MAX_FRAMES)
        return -1;
    __u32 generation = known_code(code, code_tag(name, filename), s->hdr.pid);
    if (!generation) {
        if (proc->code.code_type && read_u64(code + proc->code.object_type, &fault) != proc->code.code_type)
            return -1;
        generation = PYAT_CODE_TO_NAME;
    }
    s->frames[idx].code = code;
    s->frames[idx].instr = instr;
    s->frames[idx].code_tag = generation;
    return 0;
}

/* One step of the walk: record the frame (unless it is a shim) and move to the previous one. */
static long frame_walk_step(__u32 index, void *ctx)
{
    struct frame_walk *w = ctx;
    const struct py_layout *l = w->layout;
    __u64 frame = w->frame;
    int fault = 0;

    if (!frame)
        return 1;
    if (w->n >= PYAT_MAX_FRAMES) {
        w->sample->hdr.flags |= SAMPLE_TRUNCATED;
        return 1;
    }
    __u64 code = read_u64(frame + l->frame_code, &fault);
    __u64 previous = read_u64(frame + l->frame_previous, &fault);
    if (fault) {
        w->fault = 1;
        return 1;
    }
    w->frame = previous;
    w->last = frame;
    code &= ~(__u64)l->code_ptr_tag_mask;
    if (!code)
        return 0;
    if (l->frame_owner && l->owner_skip_min != 0xff) {
        __u8 owner = 0;
        if (bpf_probe_read_user(&owner, 1, (const void *)(frame + l->frame_owner)) == 0 &&
            owner >= l->owner_skip_min)
            return 0;
    }

    __u32 idx = w->n;
    if (record_frame(w->proc, frame, code, w->sample, idx)) {
        w->fault = 1;
        return 1;
    }
    w->n = idx + 1;

    /* Twisted: remember the innermost _inlineCallbacks frame that the awaiter (gotResult) called:
     * its generator was resumed by a Deferred firing, not called by the code below it. */
    const struct twisted_layout *tw = w->twisted;
    if (tw && !w->resumed_frame) {
        if (code == tw->awaiter_code && w->inline_callbacks_frame) {
            w->resumed_frame = w->inline_callbacks_frame;
            w->resumed_index = w->inline_callbacks_index;
        }
        w->inline_callbacks_frame = 0;
        if (code == tw->inline_callbacks_code) {
            w->inline_callbacks_frame = frame;
            w->inline_callbacks_index = idx;
        }
    }
    return 0;
}

/* The generators waiting for a resumed inlineCallbacks generator: its status.deferred has, among
 * its callbacks, the awaiter of each generator that yielded it; that generator's own status leads
 * on. Each is recorded as one more frame (its suspended frame, at its yield). */
#define PYAT_MAX_AWAITING 32
#define PYAT_MAX_CALLBACKS_SCANNED 8

static __always_inline __u64 read_attr(__u64 obj, const struct attr_ref *a, int *fault)
{
    __u64 values = 0;
    if (a->mode == ATTR_VALUES_POINTER) {
        values = read_u64(obj + a->offset, fault);
    } else if (a->mode == ATTR_TAGGED_VALUES) {
        __u64 word = read_u64(obj + a->offset, fault);
        values = (word & 1) ? word + 1 : 0;
    } else if (a->mode == ATTR_INLINE_VALUES) {
        values = obj + a->offset;
    }
    if (!values || *fault)
        return 0;
    return read_u64(values + 8 * (__u64)a->index, fault);
}

struct awaiting_walk {
    const struct py_process *proc;
    const struct py_layout *layout;
    const struct twisted_layout *twisted;
    struct py_sample *sample;
    __u64 status; /* the _CancellationStatus of the generator whose waiters are looked for next */
    __u32 n;
};

static long awaiting_step(__u32 index, void *ctx)
{
    struct awaiting_walk *a = ctx;
    const struct twisted_layout *tw = a->twisted;
    const struct py_layout *l = a->layout;
    int fault = 0;

    __u64 deferred = read_attr(a->status, &tw->status_deferred, &fault);
    __u64 callbacks = deferred ? read_attr(deferred, &tw->deferred_callbacks, &fault) : 0;
    if (fault || !callbacks)
        return 1;
    __s64 count = (__s64)read_u64(callbacks + tw->list_size, &fault);
    __u64 items = read_u64(callbacks + tw->list_items, &fault);
    if (fault || count <= 0 || !items)
        return 1;
    for (int i = 0; i < PYAT_MAX_CALLBACKS_SCANNED; i++) {
        if (i >= count)
            return 1;
        /* callbacks[i] = ((callback, args, kwargs), (errback, args, kwargs)) */
        __u64 pair = read_u64(items + 8 * i, &fault);
        __u64 triple = pair ? read_u64(pair + tw->tuple_items, &fault) : 0;
        __u64 callback = triple ? read_u64(triple + tw->tuple_items, &fault) : 0;
        if (fault)
            return 1;
        if (!callback || read_u64(callback + tw->func_code, &fault) != tw->awaiter_code)
            continue;
        __u64 gen = 0, status = 0;
        if (tw->awaiter_in_closure) {
            __u64 closure = read_u64(callback + tw->func_closure, &fault);
            __u64 gen_cell = read_u64(closure + tw->tuple_items + 8 * (__u64)tw->awaiter_gen, &fault);
            __u64 status_cell = read_u64(closure + tw->tuple_items + 8 * (__u64)tw->awaiter_status, &fault);
            gen = read_u64(gen_cell + tw->cell_ref, &fault);
            status = read_u64(status_cell + tw->cell_ref, &fault);
        } else {
            __u64 args = read_u64(triple + tw->tuple_items + 8, &fault);
            gen = read_u64(args + tw->tuple_items + 8 * (__u64)tw->awaiter_gen, &fault);
            status = read_u64(args + tw->tuple_items + 8 * (__u64)tw->awaiter_status, &fault);
        }
        if (fault || !gen || !status)
            return 1;
        __u64 frame = tw->gen_frame_embedded ? gen + tw->gen_frame : read_u64(gen + tw->gen_frame, &fault);
        __u64 code = frame ? read_u64(frame + l->frame_code, &fault) : 0;
        code &= ~(__u64)l->code_ptr_tag_mask;
        __u32 idx = a->sample->hdr.nframes;
        if (fault || !code || idx >= PYAT_MAX_FRAMES || record_frame(a->proc, frame, code, a->sample, idx))
            return 1;
        a->sample->hdr.nframes = idx + 1;
        a->n++;
        a->status = status;
        return 0;
    }
    return 1;
}

/* Append the awaited-by chain of the resumed _inlineCallbacks frame found by the walk. */
static __always_inline void walk_awaiting(const struct py_process *proc, const struct twisted_layout *tw,
                                          __u64 inline_callbacks_frame, __u32 at, struct py_sample *s)
{
    const struct py_layout *l = &proc->layout;
    int fault = 0;
    __u64 status = read_u64(inline_callbacks_frame + tw->frame_localsplus + 8 * (__u64)tw->status_local,
                            &fault);
    status &= ~(__u64)l->code_ptr_tag_mask;
    if (tw->status_local_is_cell && status)
        status = read_u64(status + tw->cell_ref, &fault);
    if (fault || !status)
        return;
    struct awaiting_walk a = {.proc = proc, .layout = l, .twisted = tw, .sample = s, .status = status};
    bpf_loop(PYAT_MAX_AWAITING, awaiting_step, &a, 0);
    s->hdr.awaited_at = at;
    s->hdr.nawaiting = a.n;
}

/* Fill s->frames (innermost first, from index `first`) from `frame` outwards; sets nframes,
 * base_frame and flags. Code objects new to the kernel are left for name_new_frames. */
static __always_inline void walk_frames_from(const struct py_process *proc, const struct twisted_layout *tw,
                                             __u64 frame, struct py_sample *s, __u32 first)
{
    const struct py_layout *l = &proc->layout;
    /* Skipped shim frames count against a larger budget than recorded ones. The count starts as
     * read back from the sample, a value the verifier does not know: a known one would be explored
     * once per value the walk reaches (127), not once for all. */
    s->hdr.nframes = first;
    struct frame_walk walk = {.proc = proc, .layout = l, .twisted = tw, .sample = s, .frame = frame,
                              .n = *(volatile __u16 *)&s->hdr.nframes};
    bpf_loop(2 * PYAT_MAX_FRAMES, frame_walk_step, &walk, 0);
    if (walk.fault)
        s->hdr.flags |= SAMPLE_READ_FAULT;
    s->hdr.nframes = walk.n;
    s->hdr.base_frame = (!walk.fault && !walk.frame) ? walk.last : 0;
    s->hdr.awaited_at = 0;
    s->hdr.nawaiting = 0;
    if (tw && walk.resumed_frame) {
        s->hdr.flags |= SAMPLE_RESUMED_GENERATOR;
        walk_awaiting(proc, tw, walk.resumed_frame, walk.resumed_index, s);
    }
}

/* The innermost frame of the running thread (0: none); *tstate_out gets its PyThreadState. */
static __always_inline __u64 current_frame(const struct py_process *proc, __u32 tid, __u64 *tstate_out,
                                           int *fault)
{
    const struct py_layout *l = &proc->layout;
    __u64 tstate = find_thread_state(proc, tid);
    *tstate_out = tstate;
    if (!tstate)
        return 0;
    return tstate_top_frame(l, tstate, fault);
}

/* Fill s->frames (innermost first) from the thread's current frame; sets nframes and flags. */
static __always_inline void walk_python_stack(const struct py_process *proc,
                                              const struct twisted_layout *tw, __u32 tid,
                                              struct py_sample *s)
{
    int fault = 0;
    __u64 tstate = 0;

    s->hdr.nframes = 0;
    s->hdr.base_frame = 0;
    __u64 frame = current_frame(proc, tid, &tstate, &fault);
    if (!tstate) {
        s->hdr.flags |= SAMPLE_NO_THREAD;
        return;
    }
    if (fault) {
        s->hdr.flags |= SAMPLE_READ_FAULT;
        return;
    }
    walk_frames_from(proc, tw, frame, s, 0);
}

#endif
