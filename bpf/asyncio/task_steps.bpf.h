/* asyncio's task steps (--asyncio-steps): a uprobe where the C Task starts a step (task_step_impl
 * where the module has its symbol; else the two ways a step starts in 3.8-3.11, the step wrapper's
 * call and the wakeup) sends EVENT_TASK_STEP with the task, so that userspace ends the task's wait
 * at the very moment it resumed. Entry-only: one trap per step (~1 us here). */
#ifndef PYAT_TASK_STEPS_BPF_H
#define PYAT_TASK_STEPS_BPF_H

#include "lib/sampler.bpf.h"
#include "abi/events.h"
#include "abi/maps.h"
#include "lib/sample_records.bpf.h"
#include "lib/user_memory.bpf.h"

/* TaskStepMethWrapper.sw_task and 3.8/3.9 TaskWakeupMethWrapper.ww_task: after the object's head. */
#define PYAT_STEP_WRAPPER_TASK 16

static __always_inline int task_step_began(__u64 task)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    if (!task || !bpf_map_lookup_elem(&processes, &tgid))
        return 0;
    count(COUNTER_ASYNCIO_STEPS);
    struct event_header *h = reserve_header_record(EVENT_TASK_STEP, tgid, tid, bpf_ktime_get_ns());
    if (!h)
        return 0;
    h->task = task;
    /* No wakeup: tens of thousands of steps a second would wake the tracer as often (its poll
     * reads them within a few ms anyway, with the samples). */
    bpf_ringbuf_submit(h, BPF_RB_NO_WAKEUP);
    return 0;
}

/* task_step_impl(task, exc) (3.8-3.11) and task_wakeup(task, future) (3.10, 3.11). */
SEC("uprobe")
int on_task_step_task_first(struct pt_regs *ctx)
{
    return task_step_began(PT_REGS_PARM1(ctx));
}

/* task_step_impl(state, task, exc) (3.12+). */
SEC("uprobe")
int on_task_step_task_second(struct pt_regs *ctx)
{
    return task_step_began(PT_REGS_PARM2(ctx));
}

/* TaskStepMethWrapper_call(wrapper, ...) and 3.8/3.9 TaskWakeupMethWrapper_call(wrapper, ...). */
SEC("uprobe")
int on_task_step_wrapped(struct pt_regs *ctx)
{
    int fault = 0;
    __u64 task = read_u64(PT_REGS_PARM1(ctx) + PYAT_STEP_WRAPPER_TASK, &fault);
    return fault ? 0 : task_step_began(task);
}

#endif
