/* The sampler's maps that userspace reads besides the records: the per-CPU counters' indexes and the
 * key of parked_since. Shared with userspace: C, fixed-width fields, no pointers. */
#ifndef PYAT_ABI_MAPS_H
#define PYAT_ABI_MAPS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Key of the parked_since map: a greenlet parked at a switch, or an inlineCallbacks generator
 * suspended at a yield (Twisted, --clock wall); the value is when (bpf_ktime_get_ns()). */
struct parked_key {
    __u64 greenlet; /* PyGreenlet* or generator object */
    __u32 tgid;
    __u32 pad;
};

/* Counters in the per-CPU "counters" array. */
enum counter_index {
    COUNTER_LOST_SAMPLES = 0,  /* ring buffer full */
    COUNTER_LOST_OFFCPU = 1,   /* off-CPU interval table (or parked-greenlet table) full */
    COUNTER_SAMPLES = 2,       /* on-CPU samples taken of target threads */
    COUNTER_GREENLET_SWITCHES = 3, /* greenlet switch hook hits */
    COUNTER_GREENLET_UNREADABLE = 4, /* switches whose greenlets could not be read */
    COUNTER_GENERATOR_STEPS = 5, /* generator.send/throw hook hits */
    COUNTER_PYTHON_RETURNS = 6, /* function__return probe hits (Deferred lifecycle log) */
    COUNTER_NOT_YET_SAMPLED = 7, /* samples not taken: the process's runtimes were being looked for */
    COUNTER_ASYNCIO_STEPS = 8,   /* asyncio task steps hooked (--asyncio-steps) */
    COUNTER_MAX = 9,
};

#endif
