/* What the kernel knows of a process that has imported asyncio (shared with userspace): the code
 * objects of the loop's plumbing that calls a task's coroutine (asyncio.events.Handle._run, the
 * pure-Python Task.__step...), found by userspace in the target's objects. A stack walk that meets
 * one of them records the frame it called (struct event_header.task_frame): the running task's
 * coroutine frame. The walk then looks that frame up among the tasks asyncio says are running
 * (the {loop: task} dict _current_tasks: one entry per running loop) and records the task
 * (event_header.task), which userspace names and links to the tasks awaiting it. */
#ifndef PYAT_ASYNCIO_ABI_H
#define PYAT_ASYNCIO_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PYAT_ASYNCIO_ENTRIES 6
/* _current_tasks' entries looked at per sample, newest first. A loop's task is set at each step
 * and deleted after it, so each step appends an entry until the dict is compacted: an 8-slot dict
 * (up to 5 loops) holds 5 entries, a 32-slot one 21, which these cover. */
#define PYAT_ASYNCIO_TASK_ENTRIES 21

struct asyncio_layout {
    __u64 task_entry_code[PYAT_ASYNCIO_ENTRIES]; /* 0: unused slot */
    __u64 current_tasks;      /* the {loop: task} dict (0: unknown: no task is recorded) */
    /* Reading that dict (general keys: entries of {hash, key, value}) and a task's coroutine frame. */
    __u16 dict_keys;          /* PyDictObject.ma_keys */
    __u16 dictkeys_size;      /* dk_size (3.8-3.10, sized_keys) */
    __u16 dictkeys_log2_index_bytes; /* dk_log2_index_bytes (3.11+) */
    __u16 dictkeys_nentries;
    __u16 dictkeys_indices;
    __u16 dict_entry_size;
    __u16 task_coro;          /* TaskObj.task_coro */
    __u16 gen_frame;          /* the coroutine's frame: embedded at (3.11+) or a pointer at (3.8-3.10) */
    __u8 gen_frame_embedded;
    __u8 sized_keys;          /* 1: dk_size gives the index table's size (3.8-3.10); 0: log2 bytes */
    __u16 fut_callback0;      /* FutureObj.fut_callback0: the running task's first done-callback */
    __u8 pad[4];
};

#endif
