/* asyncio's part of every stack walk: the frame that a task entry (lib/walk_hooks.bpf.h's hooks
 * pass each frame recorded, innermost first) called is the running task's coroutine frame; the
 * innermost such frame is recorded in the sample (event_header.task_frame, task_at), for userspace
 * to root the stack at its task. One compare per frame against the codes already read; no read. */
#ifndef PYAT_RUNNING_TASK_BPF_H
#define PYAT_RUNNING_TASK_BPF_H

#include "abi/events.h"
#include "asyncio/asyncio_abi.h"
#include "asyncio/asyncio_maps.bpf.h"
#include "lib/user_memory.bpf.h"

/* On the stack: only the layout (every call chain down to a frame's record shares 512 bytes). What
 * the walk keeps meanwhile lives in the sample's header: task_frame and task_at once found, and
 * until then the frame recorded just before (inner to) the current one in `task`, its index in
 * unused[0]. */
struct running_task_walk {
    const struct asyncio_layout *asyncio; /* NULL: the process has not imported asyncio */
};

static __always_inline void running_task_begin(struct running_task_walk *r, __u32 tgid, struct py_sample *s)
{
    r->asyncio = bpf_map_lookup_elem(&asyncio_processes, &tgid);
    s->hdr.task_frame = 0;
    s->hdr.task_at = 0;
    s->hdr.task = 0;
    s->hdr.task_callback = 0;
    s->hdr.unused[0] = 0;
}

static __always_inline void running_task_frame(struct running_task_walk *r, __u64 frame, __u64 code, __u32 idx,
                                               struct py_sample *s)
{
    const struct asyncio_layout *a = r->asyncio;
    if (!a || s->hdr.task_frame)
        return;
    if (s->hdr.task) {
        for (int i = 0; i < PYAT_ASYNCIO_ENTRIES; i++)
            if (a->task_entry_code[i] && code == a->task_entry_code[i]) {
                s->hdr.task_frame = s->hdr.task;
                s->hdr.task_at = s->hdr.unused[0];
                return;
            }
    }
    s->hdr.task = frame;
    s->hdr.unused[0] = (__u16)idx;
}

/* The running task whose coroutine frame is `frame`, among _current_tasks' values; 0: none. */
static __always_inline __u64 task_of_frame(const struct asyncio_layout *a, __u64 frame)
{
    int fault = 0;
    __u64 keys = read_u64(a->current_tasks + a->dict_keys, &fault);
    if (fault || !keys)
        return 0;
    __s64 n = (__s64)read_u64(keys + a->dictkeys_nentries, &fault);
    __u64 indices = 0;
    if (a->sized_keys) {
        __s64 size = (__s64)read_u64(keys + a->dictkeys_size, &fault);
        if (size <= 0 || size > 0xff) /* a dict of a few running loops: one-byte indices */
            return 0;
        indices = (__u64)size;
    } else {
        __u8 log2_bytes = 0;
        if (bpf_probe_read_user(&log2_bytes, 1, (const void *)(keys + a->dictkeys_log2_index_bytes)) ||
            log2_bytes > 16)
            return 0;
        indices = 1ULL << log2_bytes;
    }
    if (fault || n <= 0)
        return 0;
    __u64 entries = keys + a->dictkeys_indices + indices;
    for (int k = 0; k < PYAT_ASYNCIO_TASK_ENTRIES; k++) {
        __s64 i = n - 1 - k; /* the newest first: the running task was set last */
        if (i < 0)
            break;
        __u64 task = read_u64(entries + (__u64)i * a->dict_entry_size + 16, &fault); /* {hash, key, value} */
        if (fault)
            return 0;
        if (!task)
            continue; /* a deleted entry */
        __u64 coro = read_u64(task + a->task_coro, &fault);
        if (fault || !coro)
            continue;
        __u64 its_frame = a->gen_frame_embedded ? coro + a->gen_frame : read_u64(coro + a->gen_frame, &fault);
        if (!fault && its_frame == frame)
            return task;
        fault = 0;
    }
    return 0;
}

static __always_inline void running_task_end(struct running_task_walk *r, struct py_sample *s)
{
    s->hdr.unused[0] = 0;
    __u64 frame = s->hdr.task_frame;
    s->hdr.task = (frame && r->asyncio && r->asyncio->current_tasks) ? task_of_frame(r->asyncio, frame) : 0;
    /* (Zeroed by begin already; without this store clang 14 spills differently and the verifier
     * rejects on_python_return: combined stack 528 bytes of 512.) */
    s->hdr.task_callback = 0;
    if (s->hdr.task && r->asyncio->fut_callback0) {
        int fault = 0;
        __u64 callback = read_u64(s->hdr.task + r->asyncio->fut_callback0, &fault);
        s->hdr.task_callback = fault ? 0 : callback;
    }
}

#endif
