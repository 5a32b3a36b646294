/* Naming code objects in the kernel, the first time a frame shows one (bpf/lib/code_names.bpf.h): the
 * event that carries a code object's name, file and line table, and the table of code objects named,
 * which userspace reads. Shared with userspace: C, fixed-width fields, no pointers.
 *
 * The text is copied while the code object is certainly alive, in an event that precedes every
 * record using that generation in the ring buffer. Strings are CPython's code units as stored
 * (kind 1: Latin-1 or ASCII, 2: UCS-2, 4: UCS-4), cut to the buffers' sizes. */
#ifndef PYAT_ABI_CODE_NAMES_H
#define PYAT_ABI_CODE_NAMES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

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

#endif
