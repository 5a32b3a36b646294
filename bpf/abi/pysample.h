/* Types shared by the BPF programs and the userspace loader.
 * Kept C (no C++), fixed-width fields, no pointers: the same bytes on both sides. */
#ifndef PYAT_PYSAMPLE_H
#define PYAT_PYSAMPLE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Deepest Python stack recorded per sample; deeper stacks keep their innermost
 * PYAT_MAX_FRAMES frames and are flagged SAMPLE_TRUNCATED. */
#define PYAT_MAX_FRAMES 127
/* Threads walked when looking for the current thread's PyThreadState. */
#define PYAT_MAX_THREADS 256

/* How the interpreter chains its frames. */
enum py_frame_kind {
    FRAMES_FRAME_OBJECT = 1,      /* 3.8-3.10: PyThreadState.frame -> PyFrameObject.f_back */
    FRAMES_INTERPRETER_FRAME = 2, /* 3.11+: _PyInterpreterFrame.previous */
};

/* Where the thread's current frame hangs off its PyThreadState. */
enum py_current_frame_kind {
    CURRENT_FRAME_DIRECT = 1,  /* *(tstate + tstate_frame): 3.8-3.10 frame, 3.13+ current_frame */
    CURRENT_FRAME_VIA_CFRAME = 2, /* *(*(tstate + tstate_cframe) + cframe_current_frame): 3.11, 3.12 */
};

/* Byte offsets the BPF frame walker needs; filled by userspace from probes/cpython. */
struct py_layout {
    __u16 frame_kind;              /* enum py_frame_kind */
    __u16 current_frame_kind;      /* enum py_current_frame_kind */
    __u16 runtime_interpreters_head;
    __u16 interp_threads_head;
    __u16 tstate_next;
    __u16 tstate_native_thread_id; /* 0: not available; match thread_id with fs base instead */
    __u16 tstate_thread_id;
    __u16 tstate_frame;            /* direct current frame (see current_frame_kind) */
    __u16 tstate_cframe;
    __u16 cframe_current_frame;
    __u16 frame_code;
    __u16 frame_previous;
    __u16 frame_instr;             /* f_lasti (int) or prev_instr / instr_ptr (pointer) */
    __u16 frame_owner;             /* 0: no owner field */
    __u16 code_filename;
    __u16 code_name;
    __u16 code_adaptive;           /* start of the bytecode inside the code object (3.11+) */
    __u8 owner_skip_min;           /* skip frames whose owner >= this (C-stack shims); 0xff: none */
    __u8 code_ptr_tag_mask;        /* low bits to clear in the code pointer (3.14 tagging) */
    __u8 instr_is_pointer;         /* 1: frame_instr is a pointer into the bytecode */
    __u8 lasti_scale;              /* f_lasti units to bytes: 1 (3.8/3.9) or 2 (3.10) */
    __u8 pad[2];
};

/* Where a code object keeps what names it (see bpf/lib/code_names.bpf.h); filled by userspace from
 * probes/cpython. */
struct code_layout {
    __u64 code_type;          /* &PyCode_Type in the process (0: unknown, not checked) */
    __u16 object_type;        /* PyObject.ob_type */
    __u16 code_name;          /* co_qualname (3.11+) or co_name: what it is named by */
    __u16 code_name_pointer;  /* co_name: what its fingerprint (code_tag) is made of, with co_filename */
    __u16 code_filename;
    __u16 code_firstlineno;
    __u16 code_linetable;     /* co_lnotab (3.8/3.9) or co_linetable: a bytes object */
    __u16 bytes_size;         /* PyBytesObject.ob_size */
    __u16 bytes_data;
    __u16 unicode_length;     /* PyASCIIObject.length, in code points */
    __u16 unicode_state;
    __u16 unicode_ascii_data; /* characters of a compact ASCII str */
    __u16 unicode_compact_data; /* characters of a compact non-ASCII str (kind bytes each) */
    __u16 unicode_utf8;       /* a compact non-ASCII str's cached UTF-8 copy (char*, may be NULL) */
    __u16 pad[3];
};

/* One traced CPython process, keyed by tgid. */
struct py_process {
    __u64 runtime_addr;            /* &_PyRuntime in the target's address space */
    struct py_layout layout;
    struct code_layout code;
};

/* One Python frame as recorded in the kernel. */
struct py_frame {
    __u64 code;     /* address of the PyCodeObject */
    __s32 instr;    /* byte offset of the current instruction in the bytecode; <0: not started */
    __u32 code_tag; /* the code object's naming generation (struct code_name_event; 0: not named);
                     * an address reused by a new code object gets a new one */
};

/* Naming code objects in the kernel, the first time a frame shows one (bpf/lib/code_names.bpf.h): the
 * text it is named by, copied while the code object is certainly alive, in an event that precedes
 * every record using that generation in the ring buffer. Strings are CPython's code units as
 * stored (kind 1: Latin-1 or ASCII, 2: UCS-2, 4: UCS-4), cut to the buffers' sizes. */
#define PYAT_EVENT_CODE_NAME 0x40 /* distinct from every enum event_kind and call_event_kind */
#define PYAT_CODE_NAME_BYTES 512
#define PYAT_CODE_FILE_BYTES 1024
#define PYAT_CODE_TABLE_BYTES 4096
/* Userspace marks code objects it read itself (not named by the kernel) with this bit set. */
#define PYAT_USERSPACE_GENERATION 0x80000000u
/* What the kernel's naming returns for an object that is not a code object (a frame being set up
 * or torn down): never a generation. */
#define PYAT_NOT_CODE 0xffffffffu
/* A frame whose code object a walk saw for the first time: named once the walk is over. */
#define PYAT_CODE_TO_NAME 0xfffffffeu

/* Which code objects the kernel has named: PYAT_CODE_SETS sets of PYAT_CODE_SET_WAYS slots, the
 * set picked by code_set_index; userspace reads it to tell whether an object is still the one
 * named (the kernel empties a slot as its code object is freed). */
#define PYAT_CODE_SET_WAYS 4
#define PYAT_CODE_SETS 16384 /* a power of two */
struct code_slot {
    __u64 code;       /* 0: empty */
    __u32 tgid;
    __u32 generation;
    __u32 tag;        /* code_tag of its name and file pointers when named */
    __u32 pad;
};
struct code_set {
    struct code_slot way[PYAT_CODE_SET_WAYS];
};
static inline __u32 code_set_index(__u64 code, __u32 tgid)
{
    __u64 h = (code >> 4) ^ ((__u64)tgid * 0x9E3779B97F4A7C15ULL);
    h ^= h >> 29;
    return (__u32)h & (PYAT_CODE_SETS - 1);
}

struct code_name_event {
    __u32 kind;           /* PYAT_EVENT_CODE_NAME */
    __u32 pid;            /* tgid */
    __u64 code;           /* address of the PyCodeObject */
    __u32 generation;     /* what frames naming it carry as code_tag; never 0 */
    __s32 first_line;     /* co_firstlineno */
    __u32 name_length;    /* code points of the name (co_qualname, else co_name) */
    __u32 file_length;    /* code points of co_filename */
    __u16 name_bytes;     /* bytes copied into name[] */
    __u16 file_bytes;
    __u8 name_kind;       /* bytes per code point (1, 2, 4); 0: not a compact str (unread) */
    __u8 file_kind;
    __u8 pad[2];
    __u32 table_size;     /* bytes in the line table */
    __u32 table_bytes;    /* bytes copied into table[] (the record ends there) */
    char name[PYAT_CODE_NAME_BYTES];
    char file[PYAT_CODE_FILE_BYTES];
    __u8 table[PYAT_CODE_TABLE_BYTES];
};

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

/* Where a plain Python object keeps one attribute (its class's shared-keys index, resolved by
 * userspace): the values array is found per CPython's instance layout. */
enum attr_mode {
    ATTR_UNKNOWN = 0,
    ATTR_VALUES_POINTER = 1, /* 3.11: a PyDictValues* at obj + offset (negative) */
    ATTR_TAGGED_VALUES = 2,  /* 3.12: at obj + offset, (values - 1) with bit 0 set, else a dict */
    ATTR_INLINE_VALUES = 3,  /* 3.13+: the values sit at obj + offset (tp_basicsize + values) */
};

struct attr_ref {
    __u8 mode;    /* enum attr_mode */
    __u8 pad;
    __u16 index;  /* slot in the values array */
    __s32 offset;
};

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

/* Key of the parked_since map: a greenlet parked at a switch, or an inlineCallbacks generator
 * suspended at a yield (Twisted, --clock wall); the value is when (bpf_ktime_get_ns()). */
struct parked_key {
    __u64 greenlet; /* PyGreenlet* or generator object */
    __u32 tgid;
    __u32 pad;
};

/* Deferred lifecycle log (Twisted, -o FILE.jsonl): the calls logged, in the order of
 * deferred_log_layout.method_code; DEFERRED_CALLBACK_RAN is a callback run by the runner. */
enum deferred_event {
    DEFERRED_CREATED = 0,           /* Deferred.__init__ returned */
    DEFERRED_CALLBACKS_ADDED = 1,   /* addCallbacks: target = callback, thread_main = errback */
    DEFERRED_FIRED = 2,             /* callback(result): target = result */
    DEFERRED_FAILED = 3,            /* errback(fail): target = fail (may be None) */
    DEFERRED_CHAINED = 4,           /* chainDeferred(d): target = d */
    DEFERRED_CHAINED_BY_RESULT = 5, /* a callback returned an unfired Deferred (the value returned by
                                     * the Deferred's last DEFERRED_CALLBACK_RAN) */
    DEFERRED_METHODS = 6,
    DEFERRED_CALLBACK_RAN = 6,      /* target = the callable, thread_main = what it returned (0:
                                     * raised or unknown); weight_ns = how long it ran */
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
    __u16 first_local[DEFERRED_METHODS];  /* frame slot logged as `target` (DEFERRED_NO_LOCAL: none) */
    __u16 second_local[DEFERRED_METHODS]; /* frame slot logged as `thread_main` */
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

enum event_kind {
    EVENT_CPU_SAMPLE = 1,   /* perf-event sample of a running thread */
    EVENT_OFFCPU = 2,       /* a thread was off-CPU for weight_ns at this stack */
    EVENT_EXEC = 3,         /* a process called exec(): maybe a new CPython */
    EVENT_EXIT = 4,         /* a traced process exited */
    EVENT_GREENLET_SWITCH = 5, /* `origin` parks, `target` runs next after weight_ns parked; frames:
                                * the target's parked stack, when picked (see SAMPLE_PARK_SAMPLED) */
    EVENT_REACTOR_BUSY = 7,   /* a thread of a Twisted process ran weight_ns between two polls
                               * (epoll_wait, poll, select...) since ktime_ns: longer than
                               * --block-threshold; no frames */
    EVENT_DEFERRED = 8,       /* Deferred lifecycle event (deferred_event, enum deferred_event): origin =
                               * the Deferred; base_frame = the type of the result (DEFERRED_FIRED,
                               * DEFERRED_FAILED) or of the value returned (DEFERRED_CALLBACK_RAN);
                               * frames: the callables logged, then the call's stack, innermost first */
    EVENT_FORK = 10,          /* a traced process (`origin`) forked a new process (`pid`), which the kernel
                               * traces from its first instruction with the parent's description
                               * (same interpreter, same addresses); no frames */
    EVENT_DEFER_IMPORTED = 9, /* a watched process finished importing Twisted's defer module and is
                               * stopped (SIGSTOP, recorded in kernel_holds) until userspace
                               * continues it; no frames */
    EVENT_GENERATOR_WAIT = 6, /* an inlineCallbacks generator (`target`) resumes after weight_ns
                               * suspended; frames: its suspended frame (at the yield), then the
                               * stack resuming it, when picked (see SAMPLE_PARK_SAMPLED) */
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

struct event_header {
    __u32 kind;      /* enum event_kind */
    __u32 pid;       /* tgid */
    __u32 tid;
    __u16 nframes;
    __u16 flags;     /* enum sample_flags */
    __u64 ktime_ns;  /* bpf_ktime_get_ns() when recorded */
    __u64 weight_ns; /* EVENT_OFFCPU: how long the thread was off-CPU */
    __u64 origin;    /* EVENT_GREENLET_SWITCH: PyGreenlet* switched away from (0: unknown) */
    __u64 target;    /* EVENT_GREENLET_SWITCH: PyGreenlet* switched to */
    __u64 thread_main; /* EVENT_GREENLET_SWITCH: impl of the thread's main greenlet (0: unknown) */
    __u64 base_frame; /* address of the outermost frame when the walk reached the end of the chain,
                       * else 0: a greenlet's chain ends at its own first frame, so this names
                       * the greenlet a stack belongs to */
    __u16 awaited_at; /* with nawaiting > 0: index (innermost first) of the resumed _inlineCallbacks
                       * frame whose generator the awaiting frames wait for */
    __u16 nawaiting;  /* the last nawaiting of the nframes frames are not on the thread's stack: they
                       * are the suspended generators waiting for it, innermost first */
    __u8 deferred_event;    /* EVENT_DEFERRED: enum deferred_event */
    __u8 deferred_callables; /* EVENT_DEFERRED: frames[0..deferred_callables) name the callables logged
                              * (see struct deferred_log_layout); the stack follows them */
    __u16 deferred_outcome; /* EVENT_DEFERRED, DEFERRED_CALLBACK_RAN: enum deferred_outcome */
};

struct py_sample {
    struct event_header hdr;
    struct py_frame frames[PYAT_MAX_FRAMES]; /* innermost first */
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
    COUNTER_MAX = 7,
};

#endif
