/* asyncio's part of every stack walk: the frame that a task entry (lib/walk_hooks.bpf.h's hooks
 * pass each frame recorded, innermost first) called is the running task's coroutine frame; the
 * innermost such frame is recorded in the sample (event_header.task_frame, task_at), for userspace
 * to root the stack at its task. One compare per frame against the codes already read; no read. */
#ifndef PYAT_RUNNING_TASK_BPF_H
#define PYAT_RUNNING_TASK_BPF_H

#include "abi/events.h"
#include "asyncio/asyncio_abi.h"
#include "asyncio/asyncio_maps.bpf.h"

struct running_task_walk {
    const struct asyncio_layout *asyncio; /* NULL: the process has not imported asyncio */
    __u64 previous_frame;                 /* the frame recorded just before (inner to) this one */
    __u64 task_frame;
    __u32 previous_index;
    __u32 task_at;
};

static __always_inline void running_task_begin(struct running_task_walk *r, __u32 tgid)
{
    r->asyncio = bpf_map_lookup_elem(&asyncio_processes, &tgid);
}

static __always_inline void running_task_frame(struct running_task_walk *r, __u64 frame, __u64 code, __u32 idx)
{
    const struct asyncio_layout *a = r->asyncio;
    if (!a || r->task_frame)
        return;
    if (r->previous_frame) {
        for (int i = 0; i < PYAT_ASYNCIO_ENTRIES; i++)
            if (a->task_entry_code[i] && code == a->task_entry_code[i]) {
                r->task_frame = r->previous_frame;
                r->task_at = r->previous_index;
                return;
            }
    }
    r->previous_frame = frame;
    r->previous_index = idx;
}

static __always_inline void running_task_end(struct running_task_walk *r, struct py_sample *s)
{
    s->hdr.task_frame = r->task_frame;
    s->hdr.task_at = (__u16)r->task_at;
}

#endif
