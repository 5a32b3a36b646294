/* Twisted's part of the call tracer (return-only mode, CPython 3.11): an @inlineCallbacks call is
 * counted as a call of the decorated function when its wrapper returns the Deferred, and the steps
 * of its generator that the machinery runs are marked counted elsewhere (struct trace_return). */
#ifndef PYAT_INLINE_CALLBACKS_TRACE_BPF_H
#define PYAT_INLINE_CALLBACKS_TRACE_BPF_H

#include "lib/tracer.bpf.h" /* first: the settings lib/code_names.bpf.h needs */
#include "abi/cpython.h"
#include "abi/trace.h"
#include "lib/user_memory.bpf.h"
#include "twisted/twisted_abi.h"

/* Return-only mode, Twisted: the inlineCallbacks wrapper (key 0; zeros without Twisted). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct trace_twisted);
} trace_twisted SEC(".maps");

/* How to read the wrapper, for a return (`returning`) of a process that has imported Twisted; NULL
 * otherwise. */
static __always_inline const struct trace_twisted *inline_callbacks_trace(int returning)
{
    __u32 zero = 0;
    const struct trace_twisted *tw = bpf_map_lookup_elem(&trace_twisted, &zero);
    return returning && tw && tw->wrapper_code ? tw : NULL;
}

/* frames[i] of a return, its code, file and name pointers read: the wrapper returning (i == 0)
 * names the decorated function instead and tells the generator it started; a generator returning
 * to the machinery (i == 1) was stepped, or created, by it. */
static __always_inline void inline_callbacks_trace_frame(const struct trace_twisted *tw, const struct py_layout *l,
                                                         struct trace_return *r, __u64 frame, int i,
                                                         int returning_generator, __u64 *code, __u64 *filename,
                                                         __u64 *name)
{
    int fault = 0;
    if (i == 0 && *code == tw->wrapper_code) {
        /* An @inlineCallbacks call returning its Deferred: a call of the decorated function. */
        __u64 cell = read_u64(frame + tw->frame_localsplus + 8 * (__u64)tw->wrapper_function_slot, &fault);
        __u64 function = cell ? read_u64(cell + tw->cell_ref, &fault) : 0;
        __u64 wrapped = function ? read_u64(function + tw->func_code, &fault) : 0;
        if (!fault && wrapped) {
            *code = wrapped & ~(__u64)l->code_ptr_tag_mask;
            *filename = read_u64(*code + l->code_filename, &fault);
            *name = read_u64(*code + l->code_name, &fault);
        }
        __u64 gen = read_u64(frame + tw->frame_localsplus + 8 * (__u64)tw->wrapper_generator_slot, &fault);
        if (!fault && gen)
            r->started_generator = gen + tw->gen_frame;
    }
    if (i == 1 && returning_generator && (*code == tw->inline_callbacks_code || *code == tw->wrapper_code))
        r->counted_elsewhere = 1; /* a generator stepped (or created) by the machinery */
}

#endif
