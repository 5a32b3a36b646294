/* Twisted's part of the sampler: its generator steps, its reactor blocking report and its Deferred
 * lifecycle log (its part of every stack walk is awaited_by.bpf.h, which lib/walk_hooks.bpf.h
 * names), and what to forget of a process replaced by another program. */
#ifndef PYAT_TWISTED_SAMPLING_BPF_H
#define PYAT_TWISTED_SAMPLING_BPF_H

#include "twisted/deferred_log.bpf.h"
#include "twisted/generator_steps.bpf.h"
#include "twisted/reactor_busy.bpf.h"
#include "twisted/twisted_maps.bpf.h"

static __always_inline void twisted_forget_process(__u32 tgid)
{
    bpf_map_delete_elem(&twisted_processes, &tgid);
    bpf_map_delete_elem(&deferred_log_processes, &tgid);
    bpf_map_delete_elem(&deferred_import_watches, &tgid);
}

#endif
