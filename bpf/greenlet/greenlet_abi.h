/* greenlet's part of the sampler's ABI: where the switch hook reads greenlet's objects (filled by
 * userspace from probes/greenlet) and what an EVENT_GREENLET_SWITCH record says about the switch.
 * Shared with userspace: C, fixed-width fields, no pointers. */
#ifndef PYAT_GREENLET_ABI_H
#define PYAT_GREENLET_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Where greenlet keeps what the switch hook reads (probes/greenlet); filled by userspace. */
struct greenlet_layout {
    __u16 impl_self;            /* Greenlet impl -> its PyGreenlet* */
    __u16 impl_main_greenlet;   /* UserGreenlet impl -> PyGreenlet* of its thread's main greenlet */
    __u16 impl_stack_stop;      /* StackState._stack_stop; (char*)-1 marks a main greenlet */
    __u16 pygreenlet_pimpl;     /* PyGreenlet -> its impl */
    __u16 main_thread_state;    /* MainGreenlet impl -> greenlet's per-thread ThreadState */
    __u16 thread_state_current; /* ThreadState -> PyGreenlet* of the running greenlet */
    __u16 suspended_frame;      /* impl -> innermost frame of a suspended greenlet */
    __u16 pad;
};

/* One traced process's greenlet extension, keyed by tgid. */
struct greenlet_process {
    struct greenlet_layout layout;
    __u64 hooked_ns; /* bpf_ktime_get_ns() when its switches were first hooked */
};

/* EVENT_GREENLET_SWITCH (struct event_header): `origin` parks, `target` runs next. */
struct greenlet_switch_fields {
    __u64 origin;    /* PyGreenlet* switched away from (0: unknown) */
    __u64 target;    /* PyGreenlet* switched to */
    __u64 main_impl; /* impl of the thread's main greenlet (0: unknown) */
};

#endif
