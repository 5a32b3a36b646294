/* Twisted's part of the ABI, for its inlineCallbacks generators: how the stack walk follows a resumed
 * generator to the generators awaiting it and how generator steps are timed (sampler), what an
 * EVENT_GENERATOR_WAIT record names, and how --mode trace counts an @inlineCallbacks call.
 * Filled by userspace from probes/twisted and the target's own objects. Shared with userspace: C,
 * fixed-width fields, no pointers. The Deferred lifecycle log has its own: deferred_log_abi.h. */
#ifndef PYAT_TWISTED_ABI_H
#define PYAT_TWISTED_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "abi/cpython.h" /* struct attr_ref */

/* How to follow a Twisted inlineCallbacks generator to the generators waiting for it (the
 * awaited-by chain); filled by userspace from probes/twisted and the target's own objects. */
struct twisted_layout {
    __u64 inline_callbacks_code; /* code object of defer._inlineCallbacks */
    __u64 awaiter_code;          /* code object of the callback that resumes a waiting generator */
    struct attr_ref status_deferred;    /* _CancellationStatus.deferred */
    struct attr_ref deferred_callbacks; /* Deferred.callbacks */
    __u16 status_local;       /* localsplus slot of `status` in _inlineCallbacks */
    __u8 status_local_is_cell;
    __u8 awaiter_in_closure;  /* 1: gen and status are closure cells of the awaiter; 0: its args */
    __u16 awaiter_gen;        /* index of the waiting generator in the closure (or args tuple) */
    __u16 awaiter_status;     /* index of the waiting generator's status */
    __u16 frame_localsplus;
    __u16 cell_ref;
    __u16 tuple_items;
    __u16 list_size;
    __u16 list_items;
    __u16 func_code;
    __u16 func_closure;
    __u16 gen_frame;
    __u8 gen_frame_embedded;  /* 1: the generator embeds its frame (3.11+); 0: gi_frame points to it */
    __s8 gen_state_created;   /* gi_frame_state of a generator not started yet (FRAME_CREATED) */
    __u16 gen_frame_state;    /* gi_frame_state (3.11+, < 0: suspended); 0: gi_frame is NULL once done */
    __u16 cfunction_self;
    __u16 cfunction_method;
    __u64 hooked_ns;          /* --clock wall: when generator steps were first hooked */
};

/* EVENT_GENERATOR_WAIT (struct event_header): the generator that resumes. */
struct generator_wait_fields {
    __u64 generator; /* the inlineCallbacks generator object */
    __u64 unused[2];
};

/* --mode trace, Twisted: how an @inlineCallbacks function is called (filled by userspace from
 * probes/twisted); all zero when the process has not imported Twisted. */
struct trace_twisted {
    __u64 wrapper_code;          /* unwindGenerator */
    __u64 inline_callbacks_code; /* _inlineCallbacks, which steps the generators */
    __u16 wrapper_function_slot; /* localsplus slot of the wrapper's free variable `f` (a cell) */
    __u16 frame_localsplus;
    __u16 cell_ref;
    __u16 func_code;
    __u16 wrapper_generator_slot; /* localsplus slot of the wrapper's local `gen` */
    __u16 gen_frame;              /* the frame embedded in a generator (3.11+) */
};

#endif
