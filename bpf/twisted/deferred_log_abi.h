/* The Deferred lifecycle log's ABI (Twisted, -o FILE.jsonl; programs in deferred_log.bpf.h): the
 * calls logged, where their frames keep what is logged, what an EVENT_DEFERRED record carries, and
 * the watch for a launched process's import of Twisted's defer module. Shared with userspace: C,
 * fixed-width fields, no pointers. */
#ifndef PYAT_DEFERRED_LOG_ABI_H
#define PYAT_DEFERRED_LOG_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* The calls logged, in the order of deferred_log_layout.method_code; DEFERRED_CALLBACK_RAN is a
 * callback run by the runner. `first` and `second` are struct deferred_fields' values. */
enum deferred_event {
    DEFERRED_CREATED = 0,           /* Deferred.__init__ returned */
    DEFERRED_CALLBACKS_ADDED = 1,   /* addCallbacks: first = callback, second = errback */
    DEFERRED_FIRED = 2,             /* callback(result): first = result */
    DEFERRED_FAILED = 3,            /* errback(fail): first = fail (may be None) */
    DEFERRED_CHAINED = 4,           /* chainDeferred(d): first = d */
    DEFERRED_CHAINED_BY_RESULT = 5, /* a callback returned an unfired Deferred (the value returned by
                                     * the Deferred's last DEFERRED_CALLBACK_RAN) */
    DEFERRED_METHODS = 6,
    DEFERRED_CALLBACK_RAN = 6,      /* first = the callable, second = what it returned (0: raised or
                                     * unknown); weight_ns = how long it ran */
};

/* How a callback ended (DEFERRED_CALLBACK_RAN). */
enum deferred_outcome {
    OUTCOME_RETURNED = 1,
    OUTCOME_RETURNED_FAILURE = 2, /* returned a Failure: the chain goes on with errbacks */
    OUTCOME_RAISED = 3,
};

#define DEFERRED_NO_LOCAL 0xffff

/* The Deferred methods whose returns are lifecycle events and where their frames keep what is
 * logged; filled by userspace from probes/twisted (names) and the target's own objects. */
struct deferred_log_layout {
    __u64 method_code[DEFERRED_METHODS];  /* code objects, by enum deferred_event */
    __u64 runner_code;                    /* Deferred._runCallbacks */
    __u64 failure_class;                  /* twisted.python.failure.Failure */
    __u16 first_local[DEFERRED_METHODS];  /* frame slot logged as `first` (DEFERRED_NO_LOCAL: none) */
    __u16 second_local[DEFERRED_METHODS]; /* frame slot logged as `second` */
    __u16 runner_deferred;                /* runner's local: the Deferred whose callback runs */
    __u16 runner_callable;                /* runner's local: the callback */
    __u16 frame_localsplus;
    __u16 frame_func;
    __u16 frame_stacktop;
    __u16 tstate_exception;
    __u16 method_func;                    /* PyMethodObject.im_func */
    __u16 object_type;
    __u16 func_code;
    __u16 pad[3];
    __u64 function_type;                  /* PyFunction_Type */
    __u64 method_type;                    /* PyMethod_Type */
};

/* A callable logged (callback, errback) is recorded as a frame: a Python function or bound method
 * as its code object (instr -1), anything else as its type object (instr DEFERRED_CALLABLE_TYPE). */
#define DEFERRED_CALLABLE_TYPE (-2)

/* EVENT_DEFERRED (struct event_header): the Deferred and the two values logged about the call. */
struct deferred_fields {
    __u64 self;   /* the Deferred */
    __u64 first;  /* see enum deferred_event (0: none) */
    __u64 second;
};

/* EVENT_DEFERRED (struct event_header, zero in other records): which call, and how the record's
 * frames begin. */
struct deferred_detail {
    __u8 event;     /* enum deferred_event */
    __u8 callables; /* frames[0..callables) name the callables logged; the call's stack follows */
    __u16 outcome;  /* DEFERRED_CALLBACK_RAN: enum deferred_outcome */
};

/* A launched process that has not imported Twisted's defer module yet, under --deferred-log: the
 * function__return probe watches for that module's body returning (its code named `<module>`, its
 * file ending in `suffix`), stops the process (SIGSTOP) and says so (EVENT_DEFER_IMPORTED), so that
 * userspace registers its deferred_log_layout before any Deferred exists, then continues it (the
 * stop is recorded in kernel_holds, so that the tracer's hold guard continues it if the tracer
 * cannot). */
#define PYAT_MODULE_SUFFIX 32
struct deferred_import_watch {
    __u16 code_name;
    __u16 code_filename;
    __u16 unicode_length;
    __u16 unicode_ascii_data;
    __u8 suffix_len;   /* <= PYAT_MODULE_SUFFIX */
    __u8 pad[7];
    char suffix[PYAT_MODULE_SUFFIX]; /* e.g. "twisted/internet/defer.py" */
};

#endif
