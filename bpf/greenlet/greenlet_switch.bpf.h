/* Who is switching: at greenlet's Greenlet::g_switchstack (this = the target's impl), the
 * greenlet switched to and the one running until now, read through greenlet_layout.
 * Shared by the sampler (greenlet_sampling.bpf.h) and the call tracer (greenlet_trace.bpf.h). */
#ifndef PYAT_GREENLET_SWITCH_BPF_H
#define PYAT_GREENLET_SWITCH_BPF_H

#include "greenlet/greenlet_abi.h"
#include "lib/user_memory.bpf.h"

struct greenlet_switch {
    __u64 target;    /* PyGreenlet* switched to */
    __u64 origin;    /* PyGreenlet* running until now (0: unknown) */
    __u64 main_impl; /* impl of the thread's main greenlet (0: unknown) */
};

/* 0 when both could be read; the origin comes from the per-thread state that the target's main
 * greenlet owns. */
static __always_inline int read_greenlet_switch(const struct greenlet_layout *l, __u64 impl,
                                                struct greenlet_switch *out)
{
    int fault = 0;
    out->target = read_u64(impl + l->impl_self, &fault);
    __u64 stack_stop = read_u64(impl + l->impl_stack_stop, &fault);
    __u64 main_impl = impl;
    if (stack_stop != (__u64)-1) {
        __u64 main = read_u64(impl + l->impl_main_greenlet, &fault);
        main_impl = main ? read_u64(main + l->pygreenlet_pimpl, &fault) : 0;
    }
    __u64 thread_state = main_impl ? read_u64(main_impl + l->main_thread_state, &fault) : 0;
    out->origin = thread_state ? read_u64(thread_state + l->thread_state_current, &fault) : 0;
    out->main_impl = main_impl;
    return (fault || !out->target) ? -1 : 0;
}

#endif
