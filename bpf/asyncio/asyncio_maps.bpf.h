/* The map every asyncio unit of the sampler reads, declared once: which processes have imported
 * asyncio, and which code objects call a task's coroutine there. */
#ifndef PYAT_ASYNCIO_MAPS_BPF_H
#define PYAT_ASYNCIO_MAPS_BPF_H

#include "asyncio/asyncio_abi.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32); /* tgid */
    __type(value, struct asyncio_layout);
} asyncio_processes SEC(".maps");

#endif
