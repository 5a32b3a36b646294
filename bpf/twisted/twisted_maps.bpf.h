/* The map every Twisted unit of the sampler reads, declared once: which processes have imported
 * Twisted's defer module, and how to read their inlineCallbacks generators. */
#ifndef PYAT_TWISTED_MAPS_BPF_H
#define PYAT_TWISTED_MAPS_BPF_H

#include "twisted/twisted_abi.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32); /* tgid */
    __type(value, struct twisted_layout);
} twisted_processes SEC(".maps");

#endif
