/* greenlet's part of the sampler: on_greenlet_switch, a uprobe on greenlet's
 * Greenlet::g_switchstack (--clock wall, greenlet grouping or blocking reports only: a uprobe costs
 * the target ~5 us a switch): who parks, who runs next after how long parked, and now and then the
 * stack it was parked at. */
#ifndef PYAT_GREENLET_SAMPLING_BPF_H
#define PYAT_GREENLET_SAMPLING_BPF_H

#include "lib/sampler.bpf.h" /* first: the settings lib/code_names.bpf.h needs */
#include "abi/events.h"
#include "greenlet/greenlet_abi.h"
#include "greenlet/greenlet_switch.bpf.h"
#include "lib/code_names.bpf.h"
#include "lib/python_frames.bpf.h"
#include "lib/sample_records.bpf.h"

/* Set by userspace before load. */
const volatile int walk_every_park = 0; /* --group-by greenlet: every parked stack, exactly */

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32); /* tgid */
    __type(value, struct greenlet_process);
} greenlet_processes SEC(".maps");

/* Greenlet::g_switchstack(this = the target's impl, in rsi after the hidden return slot in rdi).
 * It runs before the stack switch: the thread state still shows the origin's frames.
 * Cheap on purpose (a switch-heavy service pays it per switch): the origin's park time goes into
 * a map; the target's parked stack is walked only with probability (time parked x hz), so a
 * greenlet parked for d seconds is charged d x hz ticks on average, like a sampled thread. */
SEC("uprobe")
int BPF_KPROBE(on_greenlet_switch, void *sret, void *target_impl)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    struct greenlet_process *g = bpf_map_lookup_elem(&greenlet_processes, &tgid);
    struct py_process *proc = bpf_map_lookup_elem(&processes, &tgid);
    if (!g || !proc)
        return 0;
    const struct greenlet_layout *l = &g->layout;
    __u64 impl = (__u64)target_impl;
    int fault = 0;
    struct greenlet_switch sw;
    int unreadable = read_greenlet_switch(l, impl, &sw);
    __u64 target = sw.target, origin = sw.origin, main_impl = sw.main_impl;
    count(COUNTER_GREENLET_SWITCHES);
    if (unreadable) {
        count(COUNTER_GREENLET_UNREADABLE);
        return 0;
    }

    __u32 slot = SCRATCH_GREENLET_SWITCH;
    struct py_sample *s = bpf_map_lookup_elem(&scratch, &slot);
    if (!s)
        return 0;
    __u64 now = bpf_ktime_get_ns();
    start_record(&s->hdr, EVENT_GREENLET_SWITCH, tgid, tid, now);
    s->hdr.greenlet_switch.origin = origin;
    s->hdr.greenlet_switch.target = target;
    s->hdr.greenlet_switch.main_impl = main_impl;

    /* The origin parks now, unless it has no frame left: then it has ended. */
    __u64 tstate = 0;
    int head_fault = 0;
    __u64 head = current_frame(proc, tid, &tstate, &head_fault);
    struct parked_key key = {.greenlet = origin, .tgid = tgid};
    if (origin) {
        if (tstate && !head_fault && !head) {
            s->hdr.flags |= SAMPLE_ORIGIN_FINISHED;
            bpf_map_delete_elem(&parked_since, &key);
        } else if (bpf_map_update_elem(&parked_since, &key, &now, BPF_ANY)) {
            count(COUNTER_LOST_OFFCPU); /* more parked greenlets than the map holds */
        }
    }

    /* The target ends its park. One we never saw park, but which has a saved frame (it has
     * started, and has not ended), was parked before its switches were hooked: since then. */
    key.greenlet = target;
    __u64 *since = bpf_map_lookup_elem(&parked_since, &key);
    __u64 parked_at = since ? *since : 0;
    if (since) {
        bpf_map_delete_elem(&parked_since, &key);
    } else {
        int saved_fault = 0;
        if (read_u64(impl + l->suspended_frame, &saved_fault) && !saved_fault)
            parked_at = g->hooked_ns;
    }
    if (parked_at) {
        __u64 parked = now > parked_at ? now - parked_at : 0;
        s->hdr.weight_ns = parked;
        __u64 expected = parked * sample_hz; /* ticks x 1e9 */
        int walk = walk_every_park || expected >= 1000000000ULL;
        if (!walk && (__u64)(bpf_get_prandom_u32() % 1000000000U) < expected) {
            walk = 1;
            s->hdr.flags |= SAMPLE_PARK_SAMPLED;
        }
        if (walk) {
            __u64 frame = read_u64(impl + l->suspended_frame, &fault);
            if (!fault)
                walk_frames_from(proc, frame, s, 0);
        }
    }
    name_new_frames(s, slot);
    emit(s);
    return 0;
}

/* A process replaced by another program (exec): forget its greenlet extension. */
static __always_inline void greenlet_forget_process(__u32 tgid)
{
    bpf_map_delete_elem(&greenlet_processes, &tgid);
}

#endif
