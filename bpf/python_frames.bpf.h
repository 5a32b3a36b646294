/* Walking a CPython thread's frame chain from BPF.
 * Everything here reads the *current* task's user memory, so callers run in the
 * context of the thread being walked (perf-event sample, or sched_switch's prev). */
#ifndef PYAT_PYTHON_FRAMES_BPF_H
#define PYAT_PYTHON_FRAMES_BPF_H

#include "pysample.h"

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

/* Does this PyThreadState belong to the running thread? */
static __always_inline int tstate_is_current(const struct py_layout *l, __u64 tstate, __u32 tid,
                                             __u64 fsbase)
{
    int fault = 0;
    if (l->tstate_native_thread_id) {
        __u64 native = read_u64(tstate + l->tstate_native_thread_id, &fault);
        return !fault && (__u32)native == tid;
    }
    __u64 pthread_id = read_u64(tstate + l->tstate_thread_id, &fault);
    return !fault && pthread_id == fsbase;
}

struct thread_search {
    const struct py_layout *layout;
    __u64 tstate;  /* candidate; the match when found */
    __u64 fsbase;
    __u32 tid;
    int found;
};

static long thread_search_step(__u32 index, void *ctx)
{
    struct thread_search *t = ctx;
    int fault = 0;
    if (!t->tstate)
        return 1;
    if (tstate_is_current(t->layout, t->tstate, t->tid, t->fsbase)) {
        t->found = 1;
        return 1;
    }
    t->tstate = read_u64(t->tstate + t->layout->tstate_next, &fault);
    return fault ? 1 : 0;
}

/* The running thread's PyThreadState, or 0 when it has none. */
static __always_inline __u64 find_thread_state(const struct py_process *proc, __u32 tid)
{
    const struct py_layout *l = &proc->layout;
    struct task_struct *task = bpf_get_current_task_btf();
    __u64 fsbase = BPF_CORE_READ(task, thread.fsbase);

    __u64 *cached = bpf_map_lookup_elem(&tstate_cache, &tid);
    if (cached && *cached && tstate_is_current(l, *cached, tid, fsbase))
        return *cached;

    int fault = 0;
    __u64 interp = read_u64(proc->runtime_addr + l->runtime_interpreters_head, &fault);
    if (fault || !interp)
        return 0;
    struct thread_search search = {
        .layout = l,
        .tstate = read_u64(interp + l->interp_threads_head, &fault),
        .fsbase = fsbase,
        .tid = tid,
    };
    if (fault)
        return 0;
    bpf_loop(PYAT_MAX_THREADS, thread_search_step, &search, 0);
    if (!search.found)
        return 0;
    bpf_map_update_elem(&tstate_cache, &tid, &search.tstate, BPF_ANY);
    return search.tstate;
}

static __always_inline __u32 code_tag(__u64 name, __u64 filename)
{
    __u64 mixed = (name >> 3) ^ (filename << 13) ^ (filename >> 35);
    return (__u32)mixed ^ (__u32)(mixed >> 32);
}

struct frame_walk {
    const struct py_layout *layout;
    struct py_sample *sample;
    __u64 frame;
    __u64 last;  /* the last frame visited */
    __u32 n;
    int fault;
};

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

    __u64 filename = read_u64(code + l->code_filename, &fault);
    __u64 name = read_u64(code + l->code_name, &fault);
    if (fault) {
        w->fault = 1;
        return 1;
    }
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

    __u32 idx = w->n;
    if (idx >= PYAT_MAX_FRAMES)
        return 1;
    w->sample->frames[idx].code = code;
    w->sample->frames[idx].instr = instr;
    w->sample->frames[idx].code_tag = code_tag(name, filename);
    w->n = idx + 1;
    return 0;
}

/* Fill s->frames (innermost first) from `frame` outwards; sets nframes, base_frame and flags. */
static __always_inline void walk_frames_from(const struct py_layout *l, __u64 frame, struct py_sample *s)
{
    /* Skipped shim frames count against a larger budget than recorded ones. */
    struct frame_walk walk = {.layout = l, .sample = s, .frame = frame};
    bpf_loop(2 * PYAT_MAX_FRAMES, frame_walk_step, &walk, 0);
    if (walk.fault)
        s->hdr.flags |= SAMPLE_READ_FAULT;
    s->hdr.nframes = walk.n;
    s->hdr.base_frame = (!walk.fault && !walk.frame) ? walk.last : 0;
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
    if (l->current_frame_kind == CURRENT_FRAME_VIA_CFRAME) {
        __u64 cframe = read_u64(tstate + l->tstate_cframe, fault);
        return cframe ? read_u64(cframe + l->cframe_current_frame, fault) : 0;
    }
    return read_u64(tstate + l->tstate_frame, fault);
}

/* Fill s->frames (innermost first) from the thread's current frame; sets nframes and flags. */
static __always_inline void walk_python_stack(const struct py_process *proc, __u32 tid,
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
    walk_frames_from(&proc->layout, frame, s);
}

#endif
