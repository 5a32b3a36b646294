/* Walking a CPython thread's frame chain from BPF into a sample, innermost first. Everything here
 * reads the *current* task's user memory, so callers run in the context of the thread being walked
 * (perf-event sample, or sched_switch's prev).
 *
 * Runtimes take part in every walk through three hooks (lib/walk_hooks.bpf.h names them):
 *   struct walk_hooks                               what they keep during one walk;
 *   walk_hooks_begin(hooks, tgid, sample)           before the first frame;
 *   walk_hooks_frame(hooks, frame, code, index, sample)  after each frame recorded, at frames[index];
 *   walk_hooks_end(hooks, proc, sample)             once the walk is over (nframes, base_frame set):
 *                                                   may append frames that are not on the stack. */
#ifndef PYAT_PYTHON_FRAMES_BPF_H
#define PYAT_PYTHON_FRAMES_BPF_H

#include "abi/events.h"
#include "lib/python_thread.bpf.h"
#include "lib/record_frame.bpf.h"
#include "lib/walk_hooks.bpf.h"

struct frame_walk {
    const struct py_process *proc;
    const struct py_layout *layout;
    struct py_sample *sample;
    __u64 frame;
    __u32 n;
    int fault;
    struct walk_hooks hooks;
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
    w->sample->hdr.base_frame = frame; /* the last frame visited so far (kept off the 512-byte stack) */
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
    int recorded = record_frame(w->proc, frame, code, w->sample, idx);
    if (recorded > 0)
        return 0;  /* plumbing: not a frame of the program's */
    if (recorded) {
        w->fault = 1;
        return 1;
    }
    w->n = idx + 1;
    walk_hooks_frame(&w->hooks, frame, code, idx, w->sample);
    return 0;
}

/* Fill s->frames (innermost first, from index `first`) from `frame` outwards; sets nframes,
 * base_frame and flags, and the runtime hooks theirs. Code objects new to the kernel are left for
 * name_new_frames. */
static __always_inline void walk_frames_from(const struct py_process *proc, __u64 frame, struct py_sample *s,
                                             __u32 first)
{
    const struct py_layout *l = &proc->layout;
    /* Skipped shim frames count against a larger budget than recorded ones. The count starts as
     * read back from the sample, a value the verifier does not know: a known one would be explored
     * once per value the walk reaches (127), not once for all. */
    s->hdr.nframes = first;
    struct frame_walk walk = {.proc = proc, .layout = l, .sample = s, .frame = frame,
                              .n = *(volatile __u16 *)&s->hdr.nframes};
    s->hdr.base_frame = 0;
    walk_hooks_begin(&walk.hooks, s->hdr.pid, s);
    bpf_loop(2 * PYAT_MAX_FRAMES, frame_walk_step, &walk, 0);
    if (walk.fault)
        s->hdr.flags |= SAMPLE_READ_FAULT;
    s->hdr.nframes = walk.n;
    if (walk.fault || walk.frame)
        s->hdr.base_frame = 0; /* the walk did not reach the chain's end */
    walk_hooks_end(&walk.hooks, proc, s);
}

/* Fill s->frames (innermost first) from the thread's current frame; sets nframes and flags. */
static __always_inline void walk_python_stack(const struct py_process *proc, __u32 tid, struct py_sample *s)
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
    walk_frames_from(proc, frame, s, 0);
}

#endif
