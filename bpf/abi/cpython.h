/* The interpreter as the BPF frame walker sees it: the byte offsets it follows (filled by userspace
 * from probes/cpython), the traced process's description, and one frame as recorded.
 * Shared with userspace: C, fixed-width fields, no pointers, the same bytes on both sides. */
#ifndef PYAT_ABI_CPYTHON_H
#define PYAT_ABI_CPYTHON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

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

#endif
