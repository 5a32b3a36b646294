/* The call tracer's records (pytrace.bpf.c, --mode trace, to userspace): the event kinds and the
 * entry, return and name records. Shared with userspace: C, fixed-width fields, no pointers.
 * Twisted's part (struct trace_twisted) is in twisted/twisted_abi.h. */
#ifndef PYAT_ABI_TRACE_H
#define PYAT_ABI_TRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "abi/cpython.h" /* struct py_frame */

#define PYAT_TRACE_FILE_LEN 160
#define PYAT_TRACE_NAME_LEN 96
/* _PyInterpreterFrame.owner of a generator's (or coroutine's) own frame: FRAME_OWNED_BY_GENERATOR,
 * 3.11 to 3.14 (return-only mode runs on 3.11). */
#define PYAT_FRAME_OWNED_BY_GENERATOR 1

/* Frames sent with a return in return-only mode (innermost first): the callee, its caller... */
#define PYAT_TRACE_FRAMES 16

enum call_event_kind {
    TRACE_ENTRY = 1,       /* function__entry: a call starts (filename, funcname, lineno) */
    TRACE_RETURN = 2,      /* function__return: it returns */
    TRACE_NAME = 3,        /* first sight of a (filename, funcname) pointer pair: their text */
    TRACE_GC_START = 4,    /* gc__start */
    TRACE_GC_DONE = 5,     /* gc__done */
    TRACE_RETURN_ONLY = 6, /* CPython 3.11: a return, with the frames it returns to (struct trace_return) */
    TRACE_SWITCH = 8,      /* a greenlet switch: filename = the greenlet running until now (0: unknown),
                            * funcname = the one running next */
    /* 7 was TRACE_CODE: code objects are now named by struct code_name_event (bpf/abi/code_names.h) */
};

struct call_event {
    __u32 kind;     /* enum call_event_kind */
    __u32 tid;
    __u64 ktime_ns;
    __u64 filename; /* char* in the target: the probe's first argument */
    __u64 funcname; /* char* in the target: its second */
    __s32 lineno;
    __u32 pid;
};

struct trace_name {
    struct call_event hdr; /* kind TRACE_NAME; filename and funcname: the pointers named */
    char file[PYAT_TRACE_FILE_LEN];
    char func[PYAT_TRACE_NAME_LEN];
};

/* CPython 3.11 fires function__entry only for frames entered from C: calls are counted at their
 * return, read from the interpreter's frames. */
struct trace_return {
    struct call_event hdr;   /* kind TRACE_RETURN_ONLY */
    __u64 frame;              /* address of the returning frame */
    __u64 caller_frame;       /* and of the frame it returns to (0: none) */
    __u64 estimated_ns;       /* how long the call ran, from the thread's last return before it */
    __u8 is_yield;            /* a generator suspending at a yield, not a call ending */
    __u8 nframes;             /* frames[0] is the callee, frames[1] its caller... */
    __u8 truncated;           /* more frames above the ones sent */
    __u8 counted_elsewhere;   /* a step of an inlineCallbacks generator: its call is counted at the
                               * wrapper that started it (frames[0] of that return names the
                               * decorated function, see struct trace_twisted) */
    __u8 pad[4];
    __u64 started_generator; /* Twisted: frame of the generator the returning wrapper started (0: none) */
    __u64 frame_addresses[PYAT_TRACE_FRAMES]; /* of frames[], innermost first */
    struct py_frame frames[PYAT_TRACE_FRAMES];
};

enum trace_counter {
    TRACE_COUNTER_PROBES = 0, /* probe hits seen by the programs */
    TRACE_COUNTER_LOST = 1,   /* events dropped: ring buffer full */
    TRACE_COUNTER_MAX = 2,
};

#endif
