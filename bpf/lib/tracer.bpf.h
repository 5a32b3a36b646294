/* What the call tracer's units (pytrace.bpf.c and the runtimes' files it includes) share, declared
 * once: the traced process and its settings, the event ring buffer and counters, the names already
 * sent, one event out, and how code objects are named into that ring buffer (return-only mode). */
#ifndef PYAT_TRACER_BPF_H
#define PYAT_TRACER_BPF_H

#include "abi/cpython.h"
#include "abi/trace.h"

/* Set by userspace before load. */
const volatile __u32 traced_tgid = 0;  /* the traced process */

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 32 * 1024 * 1024);
} trace_events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, TRACE_COUNTER_MAX);
    __type(key, __u32);
    __type(value, __u64);
} trace_counters SEC(".maps");

/* (filename, funcname) pointer pairs already named. */
struct name_key {
    __u64 filename;
    __u64 funcname;
};
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct name_key);
    __type(value, __u8);
} names_sent SEC(".maps");

/* Return-only mode: the traced CPython (key 0). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct py_process);
} trace_process SEC(".maps");

/* Return-only mode: code objects are named (bpf/lib/code_names.bpf.h) into the event stream, by the
 * USDT programs, which never run nested on a CPU: one scratch slot. */
#define CODE_NAMES_RINGBUF trace_events
#define CODE_NAMES_SLOTS 1
static __always_inline const struct py_process *code_names_process(__u32 tgid)
{
    __u32 zero = 0;
    return tgid == traced_tgid ? bpf_map_lookup_elem(&trace_process, &zero) : NULL;
}

/* Where CPython's probes get a str's text (PyUnicode_AsUTF8): a compact ASCII str's own
 * characters, else its cached UTF-8 copy; 0 when it has none. */
static __always_inline __u64 utf8_of(const struct code_layout *c, __u64 str)
{
    __u32 state = 0;
    __u64 utf8 = 0;
    if (!str || bpf_probe_read_user(&state, sizeof(state), (const void *)(str + c->unicode_state)) ||
        !((state >> 5) & 1))
        return 0;
    if ((state >> 6) & 1)
        return str + c->unicode_ascii_data;
    if (bpf_probe_read_user(&utf8, sizeof(utf8), (const void *)(str + c->unicode_utf8)))
        return 0;
    return utf8;
}

static __always_inline void forget_name(__u64 filename, __u64 funcname)
{
    struct name_key key = {.filename = filename, .funcname = funcname};
    bpf_map_delete_elem(&names_sent, &key);
}

/* Entry/return mode: a code object freed takes the text its probes pointed at with it; the same
 * addresses may soon hold another function's: forget that they were named, so they are named
 * again (with co_name and co_qualname, either of which the interpreter may pass). */
static __always_inline void code_names_on_dealloc(__u64 code, __u32 tgid)
{
    const struct py_process *proc = code_names_process(tgid);
    if (!proc)
        return;
    const struct code_layout *c = &proc->code;
    __u64 file = 0, name = 0, qualname = 0;
    if (bpf_probe_read_user(&file, sizeof(file), (const void *)(code + c->code_filename)) ||
        bpf_probe_read_user(&name, sizeof(name), (const void *)(code + c->code_name_pointer)) ||
        bpf_probe_read_user(&qualname, sizeof(qualname), (const void *)(code + c->code_name)))
        return;
    __u64 file8 = utf8_of(c, file);
    if (!file8)
        return;
    forget_name(file8, utf8_of(c, name));
    forget_name(file8, utf8_of(c, qualname));
}

static __always_inline void bump(__u32 index)
{
    __u64 *c = bpf_map_lookup_elem(&trace_counters, &index);
    if (c)
        (*c)++;
}

/* The ring buffer's reader polls; it is woken only when much is waiting. */
#define TRACE_WAKEUP_BYTES (4 * 1024 * 1024)

static __always_inline __u64 wakeup_flag(void)
{
    return bpf_ringbuf_query(&trace_events, BPF_RB_AVAIL_DATA) >= TRACE_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
                                                                                     : BPF_RB_NO_WAKEUP;
}

static __always_inline int traced(__u32 *tid)
{
    __u64 id = bpf_get_current_pid_tgid();
    *tid = (__u32)id;
    return (id >> 32) == traced_tgid;
}

/* Fill a record's call_event: every field. */
static __always_inline void start_call_event(struct call_event *e, __u32 kind, __u32 tid, __u64 ktime_ns, __u64 filename,
                                             __u64 funcname, __s32 lineno)
{
    e->kind = kind;
    e->tid = tid;
    e->ktime_ns = ktime_ns;
    e->filename = filename;
    e->funcname = funcname;
    e->lineno = lineno;
    e->pid = traced_tgid;
}

/* One call_event out (every probe hit that is not a return-only frame record comes here). */
static __always_inline int submit_event(__u32 kind, __u32 tid, __u64 filename, __u64 funcname, __s32 lineno)
{
    bump(TRACE_COUNTER_PROBES);
    struct call_event *e = bpf_ringbuf_reserve(&trace_events, sizeof(*e), 0);
    if (!e) {
        bump(TRACE_COUNTER_LOST);
        return 0;
    }
    start_call_event(e, kind, tid, bpf_ktime_get_ns(), filename, funcname, lineno);
    bpf_ringbuf_submit(e, wakeup_flag());
    return 0;
}

#endif
