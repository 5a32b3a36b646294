/* Naming code objects from the kernel: the first time a frame shows a code object, its name, file,
 * first line and line table are copied into a code_name_event (bpf/abi/code_names.h) while the object is
 * certainly alive (a running frame holds it), and it gets a generation that every frame recording
 * it carries. Userspace names frames from these events, so a code object freed before userspace
 * looks (module bodies after import, functions compiled and dropped, a process that exits) keeps
 * its name, and one whose address is reused is never named after the old one:
 *   - a direct-mapped, 4-way table remembers which code objects were named (and by which
 *     generation); a miss names again (a new generation: duplicates are harmless);
 *   - on_code_dealloc, a uprobe on the code type's tp_dealloc, forgets a code object as it is
 *     freed, so that its address, reused, is named anew;
 *   - as a second guard, the pointers of its name and file must still be the ones seen.
 *
 * The including program defines, before including this file:
 *   CODE_NAMES_RINGBUF   the ring buffer the events go to;
 *   CODE_NAMES_SLOTS     how many programs may be naming at once on a CPU (scratch slots);
 *   code_names_process(tgid)  the traced process's py_process, or NULL;
 *   code_names_on_dealloc(code, tgid)  what else to forget as a code object is freed. */
#ifndef PYAT_CODE_NAMES_BPF_H
#define PYAT_CODE_NAMES_BPF_H

#include "abi/code_names.h"
#include "abi/cpython.h"
#include "abi/events.h" /* struct py_sample */

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, PYAT_CODE_SETS);
    __type(key, __u32);
    __type(value, struct code_set);
} code_sets SEC(".maps");

/* One event under construction per program that can be naming on a CPU at the same time. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, CODE_NAMES_SLOTS);
    __type(key, __u32);
    __type(value, struct code_name_event);
} code_name_scratch SEC(".maps");

/* Per CPU: [0] namings so far, which make generations; [1] namings not sent (ring buffer full:
 * their frames carry generation 0). */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} code_name_counts SEC(".maps");

/* A new generation: this CPU's naming count and the CPU, never 0 nor in userspace's half. A count
 * that wraps (after 2^21 namings on one CPU) is harmless: the event that hands a generation out
 * again precedes every frame carrying it, and replaces what userspace knew under it. */
static __always_inline __u32 new_generation(void)
{
    __u32 zero = 0;
    __u64 *count = bpf_map_lookup_elem(&code_name_counts, &zero);
    if (!count)
        return 0;
    *count += 1;
    __u32 g = (((__u32)*count << 10) | (bpf_get_smp_processor_id() & 1023)) & ~PYAT_USERSPACE_GENERATION;
    return g ? g : 1;
}

static __always_inline __u32 code_tag(__u64 name, __u64 filename)
{
    __u64 mixed = (name >> 3) ^ (filename << 13) ^ (filename >> 35);
    return (__u32)mixed ^ (__u32)(mixed >> 32);
}

/* Copy a compact str's code units into buf (at most `size` bytes, a power of two). Returns the
 * bytes copied; *kind gets the bytes per code point (0: not a compact str) and *length the
 * str's length in code points. */
static __always_inline __u32 copy_str(const struct code_layout *c, __u64 str, char *buf, __u32 size, __u8 *kind,
                                      __u32 *length)
{
    *kind = 0;
    *length = 0;
    if (!str)
        return 0;
    __s64 len = 0;
    __u32 state = 0;
    if (bpf_probe_read_user(&len, sizeof(len), (const void *)(str + c->unicode_length)) ||
        bpf_probe_read_user(&state, sizeof(state), (const void *)(str + c->unicode_state)))
        return 0;
    __u32 k = (state >> 2) & 7;
    int compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
    if (!compact || (k != 1 && k != 2 && k != 4) || len < 0 || len > 0x7fffffff)
        return 0;
    __u64 data = str + (ascii ? c->unicode_ascii_data : c->unicode_compact_data);
    __u64 bytes = (__u64)len * k;
    __u64 n = bytes < size ? bytes : size;
    asm volatile("" : "+r"(n)); /* bound the very register the read uses (64-bit: no copy for it) */
    if (n > size)
        return 0;
    if (n && bpf_probe_read_user(buf, n, (const void *)data))
        return 0;
    *kind = (__u8)k;
    *length = (__u32)len;
    return (__u32)n;
}

/* Name `code` of process `tgid` (whose name and file pointers give `tag`): send its
 * code_name_event and remember it in its set. Returns the generation, 0 when it could not be named,
 * PYAT_NOT_CODE when it is not a code object. A global function, checked once by the verifier; its
 * temporaries live in the event being built, for the callers' stacks (512 bytes along a chain of
 * calls) are deep already. */
__noinline __u32 name_code_object(__u64 code, __u32 tgid, __u32 tag, __u32 slot)
{
    const struct py_process *proc = code_names_process(tgid);
    struct code_name_event *e = bpf_map_lookup_elem(&code_name_scratch, &slot);
    __u32 index = code_set_index(code, tgid);
    struct code_set *set = bpf_map_lookup_elem(&code_sets, &index);
    if (!proc || !e || !set)
        return 0;
    const struct code_layout *c = &proc->code;
    if (c->code_type && (bpf_probe_read_user(&e->code, sizeof(e->code), (const void *)(code + c->object_type)) ||
                         e->code != c->code_type))
        return PYAT_NOT_CODE;
    /* The name, file and line table pointers, kept at the start of table[] until it is filled. */
    __u64 *pointers = (__u64 *)e->table;
    if (bpf_probe_read_user(&pointers[0], 8, (const void *)(code + c->code_name)) ||
        bpf_probe_read_user(&pointers[1], 8, (const void *)(code + c->code_filename)) ||
        bpf_probe_read_user(&pointers[2], 8, (const void *)(code + c->code_linetable)) ||
        bpf_probe_read_user(&e->first_line, sizeof(e->first_line), (const void *)(code + c->code_firstlineno)))
        return 0;
    e->kind = PYAT_EVENT_CODE_NAME;
    e->pid = tgid;
    e->code = code;
    e->name_bytes = (__u16)copy_str(c, pointers[0], e->name, PYAT_CODE_NAME_BYTES, &e->name_kind, &e->name_length);
    e->file_bytes = (__u16)copy_str(c, pointers[1], e->file, PYAT_CODE_FILE_BYTES, &e->file_kind, &e->file_length);
    __u64 table = pointers[2];
    e->table_size = 0;
    e->table_bytes = 0;
    __s64 *whole = &((__s64 *)e->table)[3];
    if (table && !bpf_probe_read_user(whole, sizeof(*whole), (const void *)(table + c->bytes_size)) && *whole > 0 &&
        *whole <= 0x7fffffff) {
        __u32 size = (__u32)*whole;
        __u64 n = size < PYAT_CODE_TABLE_BYTES ? size : PYAT_CODE_TABLE_BYTES;
        asm volatile("" : "+r"(n));
        if (n <= PYAT_CODE_TABLE_BYTES && !bpf_probe_read_user(e->table, n, (const void *)(table + c->bytes_data))) {
            e->table_size = size;
            e->table_bytes = (__u32)n;
        }
    }
    __u32 generation = new_generation();
    if (!generation)
        return 0;
    e->generation = generation;

    __u64 size = __builtin_offsetof(struct code_name_event, table) + (__u64)e->table_bytes;
    asm volatile("" : "+r"(size)); /* one register, checked and then passed (see copy_str) */
    if (size > sizeof(*e))
        return 0;
    __u64 flags = bpf_ringbuf_query(&CODE_NAMES_RINGBUF, BPF_RB_AVAIL_DATA) >= (1024 * 1024) ? BPF_RB_FORCE_WAKEUP
                                                                                              : BPF_RB_NO_WAKEUP;
    if (bpf_ringbuf_output(&CODE_NAMES_RINGBUF, e, size, flags)) {
        __u32 one = 1;
        __u64 *lost = bpf_map_lookup_elem(&code_name_counts, &one);
        if (lost)
            *lost += 1;
        return 0;
    }

    /* Remember it: in a free way, else in the way this generation picks. */
    __u32 way = generation & (PYAT_CODE_SET_WAYS - 1);
    for (int w = 0; w < PYAT_CODE_SET_WAYS; w++)
        if (!set->way[w].code) {
            way = w;
            break;
        }
    way &= PYAT_CODE_SET_WAYS - 1;
    set->way[way].code = 0; /* readers never see the new code with the old generation */
    set->way[way].tgid = tgid;
    set->way[way].generation = generation;
    set->way[way].tag = tag;
    set->way[way].code = code;
    return generation;
}

/* The generation the kernel named `code` (whose name and file pointers give `tag`) by; 0 when it
 * has not named it (or named something else at that address since). */
static __always_inline __u32 known_code(__u64 code, __u32 tag, __u32 tgid)
{
    __u32 index = code_set_index(code, tgid);
    struct code_set *set = bpf_map_lookup_elem(&code_sets, &index);
    if (!set)
        return 0;
    for (int w = 0; w < PYAT_CODE_SET_WAYS; w++) {
        const struct code_slot *s = &set->way[w];
        if (s->code == code && s->tgid == tgid)
            return s->tag == tag ? s->generation : 0;
    }
    return 0;
}

/* The generation naming `code`, naming it first if it is new (see name_code_object). For callers
 * whose stack leaves room for name_code_object's; frame walks use known_code and name what is new
 * once the walk is over (name_new_frames). */
__noinline __u32 code_generation(__u64 code, __u32 tag, __u32 tgid, __u32 slot)
{
    __u32 known = known_code(code, tag, tgid);
    return known ? known : name_code_object(code, tgid, tag, slot);
}

/* Name the code objects a walk found new (code_tag PYAT_CODE_TO_NAME) in sample `s`, with the
 * calling program's scratch slot: called after the walk, before the sample goes out, from a frame
 * shallow enough for name_code_object. A frame that turns out not to be a code object is left
 * unnamed (tag 0). */
__noinline int name_new_frames(struct py_sample *s, __u32 slot)
{
    if (!s)
        return 0;
    const struct py_process *proc = code_names_process(s->hdr.pid);
    if (!proc)
        return 0;
    __u32 n = s->hdr.nframes;
    for (int i = 0; i < PYAT_MAX_FRAMES; i++) {
        if (i >= n)
            break;
        struct py_frame *f = &s->frames[i];
        if (f->code_tag != PYAT_CODE_TO_NAME)
            continue;
        __u64 name = 0, file = 0;
        __u32 generation = 0;
        if (!bpf_probe_read_user(&name, sizeof(name), (const void *)(f->code + proc->code.code_name_pointer)) &&
            !bpf_probe_read_user(&file, sizeof(file), (const void *)(f->code + proc->code.code_filename)))
            generation = name_code_object(f->code, s->hdr.pid, code_tag(name, file), slot);
        f->code_tag = generation == PYAT_NOT_CODE ? 0 : generation;
    }
    return 0;
}

/* The code type's tp_dealloc (code_dealloc(PyCodeObject *)): the object is about to be freed, so its
 * address may soon name another code object. */
SEC("uprobe")
int BPF_KPROBE(on_code_dealloc, void *code_object)
{
    __u64 code = (__u64)code_object;
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    __u32 index = code_set_index(code, tgid);
    struct code_set *set = bpf_map_lookup_elem(&code_sets, &index);
    if (!set)
        return 0;
    for (int w = 0; w < PYAT_CODE_SET_WAYS; w++)
        if (set->way[w].code == code && set->way[w].tgid == tgid)
            set->way[w].code = 0;
    code_names_on_dealloc(code, tgid);
    return 0;
}

#endif
