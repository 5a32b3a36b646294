/* What the kernel knows of a process that has imported asyncio (shared with userspace): the code
 * objects of the loop's plumbing that calls a task's coroutine (asyncio.events.Handle._run, the
 * pure-Python Task.__step...), found by userspace in the target's objects. A stack walk that meets
 * one of them records the frame it called (struct event_header.task_frame): the running task's
 * coroutine frame, which userspace maps to its task. */
#ifndef PYAT_ASYNCIO_ABI_H
#define PYAT_ASYNCIO_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PYAT_ASYNCIO_ENTRIES 4

struct asyncio_layout {
    __u64 task_entry_code[PYAT_ASYNCIO_ENTRIES]; /* 0: unused slot */
};

#endif
