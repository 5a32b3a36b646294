/* The event-loop blocking report of Twisted's reactor and asyncio's loops: on_poll_enter /
 * on_poll_exit, at syscall entry and exit, see a thread's time between two polls, one loop
 * iteration, in processes that have imported Twisted or asyncio; one longer than the threshold is
 * reported (EVENT_REACTOR_BUSY). A poll also ends the thread's Twisted generator steps. */
#ifndef PYAT_REACTOR_BUSY_BPF_H
#define PYAT_REACTOR_BUSY_BPF_H

#include "abi/events.h"
#include "lib/sample_records.bpf.h"
#include "twisted/generator_steps.bpf.h"
#include "twisted/twisted_maps.bpf.h"
#include "asyncio/asyncio_maps.bpf.h"

/* Set by userspace before load. */
const volatile __u64 block_threshold_ns = 0; /* reactor blocking report (Twisted processes) */

/* tid -> when its last poll returned (threads of Twisted processes). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, __u64);
} busy_since SEC(".maps");

/* x86_64 syscall numbers of the calls an event loop waits in. */
static __always_inline int is_poll(long id)
{
    return id == 232 /* epoll_wait */ || id == 281 /* epoll_pwait */ || id == 441 /* epoll_pwait2 */ ||
           id == 7 /* poll */ || id == 271 /* ppoll */ || id == 23 /* select */ || id == 270 /* pselect6 */;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_poll_enter, struct pt_regs *regs, long id)
{
    if (!is_poll(id))
        return 0;
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
    const struct twisted_layout *tw = bpf_map_lookup_elem(&twisted_processes, &tgid);
    if (!tw && !bpf_map_lookup_elem(&asyncio_processes, &tgid))
        return 0;
    __u64 now = bpf_ktime_get_ns();
    if (tw && tw->gen_frame_state)
        close_ended_steps(tw, tgid, tid, now); /* the loop is about to wait: no step runs */
    __u64 *since = bpf_map_lookup_elem(&busy_since, &tid);
    if (!since)
        return 0;
    __u64 start = *since;
    bpf_map_delete_elem(&busy_since, &tid);
    if (now < start || now - start < block_threshold_ns)
        return 0;
    struct event_header *h = reserve_header_record(EVENT_REACTOR_BUSY, tgid, tid, start);
    if (!h)
        return 0;
    h->weight_ns = now - start;
    bpf_ringbuf_submit(h, 0);
    return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_poll_exit, struct pt_regs *regs, long ret)
{
    if (!is_poll(BPF_CORE_READ(regs, orig_ax)))
        return 0;
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
    if (!bpf_map_lookup_elem(&twisted_processes, &tgid) && !bpf_map_lookup_elem(&asyncio_processes, &tgid))
        return 0;
    __u64 now = bpf_ktime_get_ns();
    bpf_map_update_elem(&busy_since, &tid, &now, BPF_ANY);
    return 0;
}

#endif
