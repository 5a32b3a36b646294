// SPDX-License-Identifier: GPL-2.0
/* pyasynctrace: sample the Python stacks of traced CPython processes.
 *
 * on_cpu_sample   perf event (cpu-clock, every CPU, --hz): walk the running thread's frames.
 * on_sched_switch (--clock wall only): record a thread's stack when it leaves the CPU and
 *                 emit it, weighted by the time away, when it comes back.
 * on_exec/on_exit process lifetime events so userspace can find new targets and drop old ones.
 * on_fork         a traced process's new process, traced from its first instruction.
 *
 * The runtimes' programs are in their own folders (each runtime's *_sampling.bpf.h), included
 * below with the helpers they share: greenlet/ (on_greenlet_switch), twisted/ (on_generator_step,
 * on_poll_enter/on_poll_exit, on_python_return); their part of every stack walk is named in
 * lib/walk_hooks.bpf.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h> /* the maps libbpf needs to attach USDT probes */

#include "lib/sampler.bpf.h" /* first: the settings lib/code_names.bpf.h needs */
#include "abi/events.h"
#include "abi/maps.h"
#include "lib/code_names.bpf.h"
#include "lib/python_frames.bpf.h"
#include "lib/sample_records.bpf.h"

#include "greenlet/greenlet_sampling.bpf.h"
#include "twisted/twisted_sampling.bpf.h"
#include "asyncio/task_steps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_EXITING 0x00000004 /* include/linux/sched.h; macros are not in vmlinux.h */

/* Set by userspace before load. */
const volatile int report_exec = 0; /* emit EVENT_EXEC for every exec on the host */
const volatile int wake_on_task_samples = 0; /* --clock cpu: see on_cpu_sample */
const volatile int follow_forks = 0; /* trace the processes traced processes fork (EVENT_FORK) */

/* tid -> stack and time at which the thread left the CPU (wall clock). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, struct py_sample);
} offcpu_start SEC(".maps");

/* Processes whose runtimes userspace is still looking for: known to the kernel (their hooks read
 * `processes`), not sampled yet, so that no sample of theirs comes out as the interpreter's raw
 * view for want of a runtime's layout (Twisted's look takes 10-40 ms). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32); /* tgid */
    __type(value, __u8);
} processes_looked_at SEC(".maps");

/* Walk the current thread into scratch slot `slot`; NULL when the task is not traced. */
static __always_inline struct py_sample *capture(__u32 slot, __u32 kind)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    struct py_process *proc = bpf_map_lookup_elem(&processes, &tgid);
    if (!proc)
        return NULL;
    if (bpf_map_lookup_elem(&processes_looked_at, &tgid)) { /* (a switch-out missed here is seeded
                                                              * once sampled, if still off) */
        if (kind == EVENT_CPU_SAMPLE)
            count(COUNTER_NOT_YET_SAMPLED);
        return NULL;
    }
    struct py_sample *s = bpf_map_lookup_elem(&scratch, &slot);
    if (!s)
        return NULL;
    start_record(&s->hdr, kind, tgid, tid, bpf_ktime_get_ns());
    walk_python_stack(proc, tid, s);
    name_new_frames(s, slot);
    return s;
}

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
    struct py_sample *s = capture(SCRATCH_CPU_SAMPLE, EVENT_CPU_SAMPLE);
    if (!s)
        return 0;
    count(COUNTER_SAMPLES);
    /* In --clock cpu a sample in an asyncio task wakes the reader: it reads that task alone while
     * it likely still lives (a per-request task lasts milliseconds), and a wakeup per sample costs
     * little next to the scans that would otherwise have to catch it. */
    emit_waking(s, wake_on_task_samples && s->hdr.task != 0);
    return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    /* prev is still current: its memory is readable, so record where it stops.
     * A thread on its way out (PF_EXITING) never comes back: forget it instead. */
    if (BPF_CORE_READ(prev, flags) & PF_EXITING) {
        __u32 tid = BPF_CORE_READ(prev, pid);
        bpf_map_delete_elem(&offcpu_start, &tid);
    } else {
        struct py_sample *s = capture(SCRATCH_OFFCPU, EVENT_OFFCPU);
        if (s) {
            __u32 tid = s->hdr.tid;
            if (bpf_map_update_elem(&offcpu_start, &tid, s, BPF_ANY))
                count(COUNTER_LOST_OFFCPU);
        }
    }

    /* next comes back: charge the time away to the stack recorded when it left. */
    __u32 next_tgid = BPF_CORE_READ(next, tgid);
    if (!bpf_map_lookup_elem(&processes, &next_tgid))
        return 0;
    __u32 next_tid = BPF_CORE_READ(next, pid);
    struct py_sample *away = bpf_map_lookup_elem(&offcpu_start, &next_tid);
    if (!away)
        return 0;
    __u64 now = bpf_ktime_get_ns();
    away->hdr.weight_ns = now > away->hdr.ktime_ns ? now - away->hdr.ktime_ns : 0;
    away->hdr.ktime_ns = now;
    emit(away);
    bpf_map_delete_elem(&offcpu_start, &next_tid);
    return 0;
}

static __always_inline void emit_process_event(__u32 kind, __u32 tgid)
{
    struct event_header *h = reserve_header_record(kind, tgid, tgid, bpf_ktime_get_ns());
    if (h)
        bpf_ringbuf_submit(h, 0);
}

/* A traced process replaced by another program: its description no longer holds. Userspace hears
 * of it as an exec (and looks at the new program, if it is looking for new targets). */
static __always_inline void forget_process(__u32 tgid)
{
    bpf_map_delete_elem(&processes, &tgid);
    bpf_map_delete_elem(&processes_looked_at, &tgid);
    greenlet_forget_process(tgid);
    twisted_forget_process(tgid);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    int was_traced = bpf_map_lookup_elem(&processes, &tgid) != NULL;
    if (was_traced)
        forget_process(tgid);
    if (report_exec || was_traced)
        emit_process_event(EVENT_EXEC, tgid);
    return 0;
}

/* A new process forked by a traced one runs the same interpreter at the same addresses: it is
 * sampled from its first instruction on (a child living a few milliseconds is not missed), and
 * userspace hears of it to follow it like its parent. A new thread is not a new process. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
    __u32 parent_tgid = BPF_CORE_READ(parent, tgid), child_tgid = BPF_CORE_READ(child, tgid);
    if (!follow_forks || child_tgid == parent_tgid)
        return 0;
    struct py_process *proc = bpf_map_lookup_elem(&processes, &parent_tgid);
    if (!proc)
        return 0;
    if (bpf_map_update_elem(&processes, &child_tgid, proc, BPF_NOEXIST))
        return 0;
    struct event_header *h = reserve_header_record(EVENT_FORK, child_tgid, child_tgid, bpf_ktime_get_ns());
    if (!h)
        return 0;
    h->fork.parent = parent_tgid;
    bpf_ringbuf_submit(h, BPF_RB_FORCE_WAKEUP);
    return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32;
    if ((__u32)id != tgid) /* a thread, not the process */
        return 0;
    if (bpf_map_lookup_elem(&processes, &tgid))
        emit_process_event(EVENT_EXIT, tgid);
    return 0;
}
