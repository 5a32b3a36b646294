/* Twisted's part of every stack walk: when the walk passes an _inlineCallbacks frame that the
 * awaiter (gotResult) called, that generator was resumed by a Deferred firing, not called by the
 * code below it; the generators waiting for it (its awaited-by chain) are appended to the sample,
 * each as its suspended frame. The walk's hooks (lib/walk_hooks.bpf.h) call awaited_by_begin,
 * awaited_by_frame and awaited_by_end. */
#ifndef PYAT_AWAITED_BY_BPF_H
#define PYAT_AWAITED_BY_BPF_H

#include "lib/sampler.bpf.h" /* first: the settings lib/code_names.bpf.h needs */
#include "abi/events.h"
#include "lib/python_objects.bpf.h"
#include "lib/record_frame.bpf.h"
#include "lib/user_memory.bpf.h"
#include "twisted/twisted_abi.h"
#include "twisted/twisted_maps.bpf.h"

/* What the hooks keep during one walk. */
struct awaited_by_walk {
    const struct twisted_layout *twisted; /* NULL: the process has not imported Twisted's defer */
    __u64 inline_callbacks_frame; /* the frame just recorded, when it ran _inlineCallbacks */
    __u64 resumed_frame; /* innermost _inlineCallbacks frame called by the awaiter: a resumption */
    __u32 inline_callbacks_index;
    __u32 resumed_index;
};

static __always_inline void awaited_by_begin(struct awaited_by_walk *a, __u32 tgid)
{
    a->twisted = bpf_map_lookup_elem(&twisted_processes, &tgid);
}

/* Remember the innermost _inlineCallbacks frame that the awaiter called (frames[idx] = frame). */
static __always_inline void awaited_by_frame(struct awaited_by_walk *a, __u64 frame, __u64 code, __u32 idx)
{
    const struct twisted_layout *tw = a->twisted;
    if (tw && !a->resumed_frame) {
        if (code == tw->awaiter_code && a->inline_callbacks_frame) {
            a->resumed_frame = a->inline_callbacks_frame;
            a->resumed_index = a->inline_callbacks_index;
        }
        a->inline_callbacks_frame = 0;
        if (code == tw->inline_callbacks_code) {
            a->inline_callbacks_frame = frame;
            a->inline_callbacks_index = idx;
        }
    }
}

#define PYAT_MAX_AWAITING 32
#define PYAT_MAX_CALLBACKS_SCANNED 8

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

/* Once the walk is over: append the awaited-by chain of the resumed generator it found, if any. */
static __always_inline void awaited_by_end(struct awaited_by_walk *a, const struct py_process *proc,
                                           struct py_sample *s)
{
    s->hdr.awaited_at = 0;
    s->hdr.nawaiting = 0;
    if (a->twisted && a->resumed_frame) {
        s->hdr.flags |= SAMPLE_RESUMED_GENERATOR;
        walk_awaiting(proc, a->twisted, a->resumed_frame, a->resumed_index, s);
    }
}

#endif
