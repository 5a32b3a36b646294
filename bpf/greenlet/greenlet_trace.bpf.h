/* greenlet's part of the call tracer (entry/return mode, greenlet loaded): on_trace_greenlet_switch,
 * a uprobe on greenlet's switch, says which greenlet runs next (TRACE_SWITCH), so that each
 * greenlet keeps its own shadow stack. */
#ifndef PYAT_GREENLET_TRACE_BPF_H
#define PYAT_GREENLET_TRACE_BPF_H

#include "lib/tracer.bpf.h" /* first: the settings lib/code_names.bpf.h needs */
#include "abi/trace.h"
#include "greenlet/greenlet_abi.h"
#include "greenlet/greenlet_switch.bpf.h"

/* Entry/return mode, greenlet loaded: its layout (key 0). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct greenlet_layout);
} trace_greenlet SEC(".maps");

/* Greenlet::g_switchstack(this = the target's impl, after the hidden return slot in rdi). */
SEC("uprobe")
int BPF_KPROBE(on_trace_greenlet_switch, void *sret, void *target_impl)
{
    __u32 tid;
    if (!traced(&tid))
        return 0;
    __u32 zero = 0;
    const struct greenlet_layout *l = bpf_map_lookup_elem(&trace_greenlet, &zero);
    if (!l)
        return 0;
    struct greenlet_switch sw;
    if (read_greenlet_switch(l, (__u64)target_impl, &sw))
        return 0;
    return submit_event(TRACE_SWITCH, tid, sw.origin, sw.target, 0);
}

#endif
