/* The sampler's records (pysample.bpf.c to userspace, one ring buffer): the event kinds, the header
 * every record starts with, and a stack sample. The kinds and flags are one registry for the core
 * and every runtime, so that their numbers never collide; fields only some kinds use are named per
 * kind, in the runtime's own ABI header. Shared with userspace: C, fixed-width fields, no pointers. */
#ifndef PYAT_ABI_EVENTS_H
#define PYAT_ABI_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "abi/cpython.h"               /* struct py_frame */
#include "greenlet/greenlet_abi.h"     /* struct greenlet_switch_fields */
#include "twisted/deferred_log_abi.h"  /* struct deferred_fields, deferred_detail */
#include "twisted/twisted_abi.h"       /* struct generator_wait_fields */

/* Deepest Python stack recorded per sample; deeper stacks keep their innermost
 * PYAT_MAX_FRAMES frames and are flagged SAMPLE_TRUNCATED. */
#define PYAT_MAX_FRAMES 127

enum event_kind {
    EVENT_CPU_SAMPLE = 1,   /* perf-event sample of a running thread */
    EVENT_OFFCPU = 2,       /* a thread was off-CPU for weight_ns at this stack */
    EVENT_EXEC = 3,         /* a process called exec(): maybe a new CPython */
    EVENT_EXIT = 4,         /* a traced process exited */
    EVENT_GREENLET_SWITCH = 5, /* greenlet_switch.origin parks, .target runs next after weight_ns
                                * parked; frames: the target's parked stack, when picked (see
                                * SAMPLE_PARK_SAMPLED) */
    EVENT_REACTOR_BUSY = 7,   /* a thread of a Twisted process ran weight_ns between two polls
                               * (epoll_wait, poll, select...) since ktime_ns: longer than
                               * --block-threshold; no frames */
    EVENT_DEFERRED = 8,       /* Deferred lifecycle event (deferred_detail.event): deferred.self =
                               * the Deferred; deferred_result_type = the type of the result
                               * (DEFERRED_FIRED, DEFERRED_FAILED) or of the value returned
                               * (DEFERRED_CALLBACK_RAN); frames: the callables logged, then the
                               * call's stack, innermost first */
    EVENT_FORK = 10,          /* a traced process (fork.parent) forked a new process (`pid`), which
                               * the kernel traces from its first instruction with the parent's
                               * description (same interpreter, same addresses); no frames */
    EVENT_DEFER_IMPORTED = 9, /* a watched process finished importing Twisted's defer module and is
                               * stopped (SIGSTOP, recorded in kernel_holds) until userspace
                               * continues it; no frames */
    EVENT_GENERATOR_WAIT = 6, /* an inlineCallbacks generator (generator_wait.generator) resumes after
                               * weight_ns suspended; frames: its suspended frame (at the yield),
                               * then the stack resuming it, when picked (see SAMPLE_PARK_SAMPLED) */
    EVENT_TASK_STEP = 11,     /* an asyncio task (`task`) begins a step (--asyncio-steps); no frames */
};

enum sample_flags {
    SAMPLE_TRUNCATED = 1,     /* more frames than PYAT_MAX_FRAMES */
    SAMPLE_NO_THREAD = 2,     /* the thread has no PyThreadState (not a Python thread) */
    SAMPLE_READ_FAULT = 4,    /* reading the interpreter's memory failed mid-walk */
    SAMPLE_ORIGIN_FINISHED = 8, /* greenlet switch: the origin has no frame left (it ended) */
    SAMPLE_PARK_SAMPLED = 16, /* greenlet switch: the target's parked stack was picked with probability
                               * weight_ns * hz / 1e9 < 1; it stands for one --hz tick */
    SAMPLE_RESUMED_GENERATOR = 32, /* frames[awaited_at] is an _inlineCallbacks frame that a fired
                                    * Deferred resumed (see awaited_at, nawaiting) */
};

/* EVENT_FORK: the process that forked. */
struct fork_fields {
    __u64 parent; /* its tgid */
    __u64 unused[2];
};

struct event_header {
    __u32 kind;      /* enum event_kind */
    __u32 pid;       /* tgid */
    __u32 tid;
    __u16 nframes;
    __u16 flags;     /* enum sample_flags */
    __u64 ktime_ns;  /* bpf_ktime_get_ns() when recorded */
    __u64 weight_ns; /* how long the record stands for: off-CPU, parked, suspended, busy, a
                      * callback's run (see the kind) */
    union {          /* what the event is about, by kind (zero for the others) */
        struct greenlet_switch_fields greenlet_switch; /* EVENT_GREENLET_SWITCH */
        struct generator_wait_fields generator_wait;   /* EVENT_GENERATOR_WAIT */
        struct deferred_fields deferred;               /* EVENT_DEFERRED */
        struct fork_fields fork;                       /* EVENT_FORK */
    };
    union {
        __u64 base_frame; /* address of the outermost frame when the walk reached the end of the
                           * chain, else 0: a greenlet's chain ends at its own first frame, so this
                           * names the greenlet a stack belongs to */
        __u64 deferred_result_type; /* EVENT_DEFERRED (see there; 0: none) */
    };
    __u16 awaited_at; /* with nawaiting > 0: index (innermost first) of the resumed _inlineCallbacks
                       * frame whose generator the awaiting frames wait for */
    __u16 nawaiting;  /* the last nawaiting of the nframes frames are not on the thread's stack: they
                       * are the suspended generators waiting for it, innermost first */
    struct deferred_detail deferred_detail; /* EVENT_DEFERRED */
    __u16 task_at;    /* with task_frame: its index in frames (innermost first) */
    __u16 unused[3];
    __u64 task_frame; /* asyncio: the running task's coroutine frame (the frame a task entry such as
                       * Handle._run called; bpf/asyncio/running_task.bpf.h), 0: none */
    __u64 task;       /* asyncio: the running task whose coroutine that frame is, 0: none found */
    __u64 task_callback; /* asyncio: that task's first done-callback (fut_callback0) when it was
                          * sampled, 0: none; names its awaiter (a gather's, a TaskGroup's, an
                          * awaiting task's wakeup) after a short-lived task is gone */
};

struct py_sample {
    struct event_header hdr;
    struct py_frame frames[PYAT_MAX_FRAMES]; /* innermost first */
};

#endif
