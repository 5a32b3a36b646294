/* What the sampler's units (pysample.bpf.c and the runtimes' files it includes) share, declared
 * once: the setting they all read, the traced processes, the ring buffer and its scratch records,
 * the parked-since table, the counters, and how code objects are named into that ring buffer. */
#ifndef PYAT_SAMPLER_BPF_H
#define PYAT_SAMPLER_BPF_H

#include "abi/cpython.h"
#include "abi/events.h"
#include "abi/maps.h"

/* Set by userspace before load. */
const volatile __u32 sample_hz = 99; /* --hz */

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32); /* tgid */
    __type(value, struct py_process);
} processes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* Scratch samples, one slot per program that may be building one on a CPU at the same time (a
 * perf event may interrupt any of the others). */
enum scratch_slot {
    SCRATCH_CPU_SAMPLE = 0,     /* on_cpu_sample */
    SCRATCH_OFFCPU = 1,         /* on_sched_switch */
    SCRATCH_GREENLET_SWITCH = 2, /* greenlet/greenlet_sampling.bpf.h */
    SCRATCH_GENERATOR_STEP = 3, /* twisted/generator_steps.bpf.h */
    SCRATCH_DEFERRED_LOG = 4,   /* twisted/deferred_log.bpf.h */
    SCRATCH_SLOTS = 5,
};
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, SCRATCH_SLOTS);
    __type(key, __u32);
    __type(value, struct py_sample);
} scratch SEC(".maps");

/* (process, PyGreenlet* or generator) -> when it parked (see struct parked_key). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct parked_key);
    __type(value, __u64);
} parked_since SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, COUNTER_MAX);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 index)
{
    __u64 *c = bpf_map_lookup_elem(&counters, &index);
    if (c)
        (*c)++;
}

/* Code objects are named (lib/code_names.bpf.h) into the same ring buffer as the samples that use
 * them, with the scratch slots' numbering. */
#define CODE_NAMES_RINGBUF events
#define CODE_NAMES_SLOTS SCRATCH_SLOTS
static __always_inline const struct py_process *code_names_process(__u32 tgid)
{
    return bpf_map_lookup_elem(&processes, &tgid);
}
static __always_inline void code_names_on_dealloc(__u64 code, __u32 tgid)
{
}

#endif
