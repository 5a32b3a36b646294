/* Twisted's generator steps (--clock wall): on_generator_step, a uprobe on generator.send/throw
 * (gen_send, gen_throw), times how long each inlineCallbacks generator stays suspended between its
 * steps and charges it to the stack it waits at (EVENT_GENERATOR_WAIT). */
#ifndef PYAT_GENERATOR_STEPS_BPF_H
#define PYAT_GENERATOR_STEPS_BPF_H

#include "lib/sampler.bpf.h" /* first: the settings lib/code_names.bpf.h needs */
#include "abi/events.h"
#include "lib/code_names.bpf.h"
#include "lib/python_frames.bpf.h"
#include "lib/sample_records.bpf.h"
#include "twisted/twisted_abi.h"
#include "twisted/twisted_maps.bpf.h"

/* Generators whose step runs on a thread right now (innermost last). A step ends when its generator
 * is no longer executing, which the next event on the thread notices: the next step (of it or of
 * another generator) or the reactor's next poll. A step hook is entry-only (one trap, ~5 us). */
#define PYAT_MAX_OPEN_STEPS 8
struct open_steps {
    __u64 generator[PYAT_MAX_OPEN_STEPS];
    __u32 n;
    __u32 pad;
};
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32); /* tid */
    __type(value, struct open_steps);
} steps_running SEC(".maps");

/* 3.11+: gi_frame_state is 0 (FRAME_EXECUTING) while a step runs, < 0 suspended, > 0 done. */
static __always_inline __s8 generator_state(const struct twisted_layout *tw, __u64 gen, int *fault)
{
    __s8 state = 0;
    if (bpf_probe_read_user(&state, 1, (const void *)(gen + tw->gen_frame_state)))
        *fault = 1;
    return state;
}

/* Close the thread's steps that have ended since: a suspended generator parks from `now` (at the
 * latest: its step ended at or before this event), a finished one is forgotten. */
static __always_inline struct open_steps *close_ended_steps(const struct twisted_layout *tw, __u32 tgid,
                                                             __u32 tid, __u64 now)
{
    struct open_steps *open = bpf_map_lookup_elem(&steps_running, &tid);
    if (!open)
        return NULL;
    __u32 kept = 0;
    for (int i = 0; i < PYAT_MAX_OPEN_STEPS; i++) {
        if (i >= open->n)
            break;
        __u64 gen = open->generator[i];
        int fault = 0;
        __s8 state = generator_state(tw, gen, &fault);
        if (!fault && state == 0) {
            if (kept < PYAT_MAX_OPEN_STEPS)
                open->generator[kept & (PYAT_MAX_OPEN_STEPS - 1)] = gen;
            kept++;
            continue;
        }
        struct parked_key key = {.greenlet = gen, .tgid = tgid};
        if (!fault && state < 0) {
            if (bpf_map_update_elem(&parked_since, &key, &now, BPF_ANY))
                count(COUNTER_LOST_OFFCPU);
        } else {
            bpf_map_delete_elem(&parked_since, &key);
        }
    }
    open->n = kept;
    return open;
}

/* generator.send(value) / generator.throw(...) (gen_send, gen_throw: the generator in rdi), as
 * _inlineCallbacks steps a generator; other callers of send/throw are ignored. */
SEC("uprobe")
int BPF_KPROBE(on_generator_step, void *generator)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    const struct twisted_layout *tw = bpf_map_lookup_elem(&twisted_processes, &tgid);
    struct py_process *proc = bpf_map_lookup_elem(&processes, &tgid);
    if (!tw || !proc || !tw->gen_frame_state)
        return 0;
    count(COUNTER_GENERATOR_STEPS);
    const struct py_layout *l = &proc->layout;
    __u64 gen = (__u64)generator;
    __u64 now = bpf_ktime_get_ns();
    struct open_steps *open = close_ended_steps(tw, tgid, tid, now);

    /* Stepped by _inlineCallbacks (the Python frame calling Context.run(gen.send, ...))? */
    int fault = 0;
    __u64 tstate = 0;
    __u64 current = current_frame(proc, tid, &tstate, &fault);
    __u64 caller_code = current ? read_u64(current + l->frame_code, &fault) & ~(__u64)l->code_ptr_tag_mask : 0;
    if (fault || caller_code != tw->inline_callbacks_code)
        return 0;

    /* This step runs from now. */
    if (!open) {
        struct open_steps empty = {};
        bpf_map_update_elem(&steps_running, &tid, &empty, BPF_NOEXIST);
        open = bpf_map_lookup_elem(&steps_running, &tid);
    }
    if (open && open->n < PYAT_MAX_OPEN_STEPS) {
        open->generator[open->n & (PYAT_MAX_OPEN_STEPS - 1)] = gen;
        open->n++;
    }

    /* It ends its suspension; one suspended since before the hook was never seen to park, but
     * has a frame to resume: since the hook. */
    struct parked_key key = {.greenlet = gen, .tgid = tgid};
    __u64 *since = bpf_map_lookup_elem(&parked_since, &key);
    __u64 parked_at = since ? *since : tw->hooked_ns;
    __u64 frame = tw->gen_frame_embedded ? gen + tw->gen_frame : read_u64(gen + tw->gen_frame, &fault);
    __u64 code = frame ? read_u64(frame + l->frame_code, &fault) & ~(__u64)l->code_ptr_tag_mask : 0;
    if (fault || !code)
        return 0;
    if (since) {
        bpf_map_delete_elem(&parked_since, &key);
    } else {
        /* Parked since before the hook, if suspended: at a yield (-1 up to 3.12; 3.13+: -2 at a
         * plain yield, -1 at yield from / await), not FRAME_CREATED (its first step). */
        __s8 state = generator_state(tw, gen, &fault);
        if (fault || state >= 0 || state == tw->gen_state_created)
            return 0;
    }
    __u64 parked = now > parked_at ? now - parked_at : 0;
    __u64 expected = parked * sample_hz; /* ticks x 1e9 */
    __u16 flags = 0;
    if (expected < 1000000000ULL) {
        if ((__u64)(bpf_get_prandom_u32() % 1000000000U) >= expected)
            return 0;
        flags = SAMPLE_PARK_SAMPLED;
    }

    __u32 slot = SCRATCH_GENERATOR_STEP;
    struct py_sample *s = bpf_map_lookup_elem(&scratch, &slot);
    if (!s)
        return 0;
    start_record(&s->hdr, EVENT_GENERATOR_WAIT, tgid, tid, now);
    s->hdr.flags = flags;
    s->hdr.weight_ns = parked;
    s->hdr.generator_wait.generator = gen;
    /* Frame 0: the generator at its yield; then the stack resuming it (_inlineCallbacks first). */
    if (record_frame(proc, frame, code, s, 0))
        return 0;
    walk_frames_from(proc, current, s, 1);
    name_new_frames(s, slot);
    emit(s);
    return 0;
}

#endif
