/* The runtimes that take part in every stack walk of the sampler (the hooks lib/python_frames.bpf.h
 * calls): Twisted appends a resumed generator's awaited-by chain; asyncio records the running task's
 * coroutine frame. A runtime that walks its own
 * logical stacks adds one member and one call per hook here. */
#ifndef PYAT_WALK_HOOKS_BPF_H
#define PYAT_WALK_HOOKS_BPF_H

#include "asyncio/running_task.bpf.h"
#include "twisted/awaited_by.bpf.h"

struct walk_hooks {
    struct awaited_by_walk twisted;
    struct running_task_walk asyncio;
};

static __always_inline void walk_hooks_begin(struct walk_hooks *h, __u32 tgid, struct py_sample *s)
{
    awaited_by_begin(&h->twisted, tgid);
    running_task_begin(&h->asyncio, tgid, s);
}

static __always_inline void walk_hooks_frame(struct walk_hooks *h, __u64 frame, __u64 code, __u32 index,
                                             struct py_sample *s)
{
    awaited_by_frame(&h->twisted, frame, code, index);
    running_task_frame(&h->asyncio, frame, code, index, s);
}

static __always_inline void walk_hooks_end(struct walk_hooks *h, const struct py_process *proc, struct py_sample *s)
{
    awaited_by_end(&h->twisted, proc, s);
    running_task_end(&h->asyncio, s);
}

#endif
