// SPDX-License-Identifier: GPL-2.0
/* pyasynctrace: sample the Python stacks of traced CPython processes.
 *
 * on_cpu_sample   perf event (cpu-clock, every CPU, --hz): walk the running thread's frames.
 * on_sched_switch (--clock wall only): record a thread's stack when it leaves the CPU and
 *                 emit it, weighted by the time away, when it comes back.
 * on_greenlet_switch uprobe on greenlet's Greenlet::g_switchstack (--clock wall, greenlet
 *                 grouping or blocking reports only: a uprobe costs the target ~5 us a switch):
 *                 who parks, who runs next after how long parked, and now and then the stack
 *                 it was parked at.
 * on_generator_step uprobe on generator.send/throw (--clock wall, Twisted only): how long each
 *                 inlineCallbacks generator stays suspended between its steps, charged to the
 *                 stack it waits at.
 * on_poll_enter / on_poll_exit  syscall entry and exit (blocking report only): a Twisted thread's
 *                 time between two polls is one reactor iteration; longer than the threshold is
 *                 reported.
 * on_python_return USDT function__return (Deferred lifecycle log, asked for with -o FILE.jsonl): see
 *                 deferred_log.bpf.h.
 * on_exec/on_exit process lifetime events so userspace can find new targets and drop old ones.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h> /* the maps libbpf needs to attach USDT probes */

#include "abi/events.h"
#include "abi/maps.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_EXITING 0x00000004 /* include/linux/sched.h; macros are not in vmlinux.h */

/* Set by userspace before load. */
const volatile int report_exec = 0; /* emit EVENT_EXEC for every exec on the host */
const volatile __u32 sample_hz = 99; /* --hz */
const volatile int walk_every_park = 0; /* --group-by greenlet: every parked stack, exactly */
const volatile __u64 block_threshold_ns = 0; /* reactor blocking report (Twisted processes) */
const volatile int follow_forks = 0; /* trace the processes traced processes fork (EVENT_FORK) */

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32); /* tgid */
    __type(value, struct py_process);
} processes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32); /* tgid */
    __type(value, struct greenlet_process);
} greenlet_processes SEC(".maps");

/* Processes that have imported Twisted's defer module: how to read inlineCallbacks chains. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32); /* tgid */
    __type(value, struct twisted_layout);
} twisted_processes SEC(".maps");

/* (process, PyGreenlet* or generator) -> when it parked (see struct parked_key). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct parked_key);
    __type(value, __u64);
} parked_since SEC(".maps");

/* Scratch samples: slot 0 for the perf-event program, slot 1 for sched_switch, slot 2 for the
 * greenlet uprobe, slot 3 for the generator step uprobe, slot 4 for the function__return probe
 * (a perf event may interrupt any of them). */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 5);
    __type(key, __u32);
    __type(value, struct py_sample);
} scratch SEC(".maps");

/* Code objects are named into the same ring buffer as the samples that use them, with the sample
 * scratch slots' numbering. */
#define CODE_NAMES_RINGBUF events
#define CODE_NAMES_SLOTS 5
static __always_inline const struct py_process *code_names_process(__u32 tgid)
{
    return bpf_map_lookup_elem(&processes, &tgid);
}
static __always_inline void code_names_on_dealloc(__u64 code, __u32 tgid)
{
}
#include "lib/python_frames.bpf.h"
#include "greenlet/greenlet_switch.bpf.h"

/* tid -> stack and time at which the thread left the CPU (wall clock). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, struct py_sample);
} offcpu_start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, COUNTER_MAX);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 index)
{
    __u64 *c = bpf_map_lookup_elem(&counters, &index);
    if (c)
        (*c)++;
}

static __always_inline __u32 sample_size(const struct py_sample *s)
{
    __u32 n = s->hdr.nframes;
    if (n > PYAT_MAX_FRAMES)
        n = PYAT_MAX_FRAMES;
    return sizeof(struct event_header) + n * sizeof(struct py_frame);
}

/* Waking the reader costs the traced thread microseconds per record; it polls every 50 ms
 * anyway, so it is only woken when the buffer fills up. */
#define RINGBUF_WAKEUP_BYTES (1024 * 1024)

static __always_inline void emit_waking(const struct py_sample *s, int wake)
{
    __u32 size = sample_size(s);
    if (size > sizeof(struct py_sample))
        size = sizeof(struct py_sample);
    __u64 flags = wake || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= RINGBUF_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
                                                                                                : BPF_RB_NO_WAKEUP;
    if (bpf_ringbuf_output(&events, (void *)s, size, flags))
        count(COUNTER_LOST_SAMPLES);
}

static __always_inline void emit(const struct py_sample *s)
{
    emit_waking(s, 0);
}

/* Walk the current thread into scratch slot `slot`; NULL when the task is not traced. */
static __always_inline struct py_sample *capture(__u32 slot, __u32 kind)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    struct py_process *proc = bpf_map_lookup_elem(&processes, &tgid);
    if (!proc)
        return NULL;
    struct py_sample *s = bpf_map_lookup_elem(&scratch, &slot);
    if (!s)
        return NULL;
    s->hdr.kind = kind;
    s->hdr.pid = tgid;
    s->hdr.tid = tid;
    s->hdr.flags = 0;
    s->hdr.nframes = 0;
    s->hdr.ktime_ns = bpf_ktime_get_ns();
    s->hdr.weight_ns = 0;
    s->hdr.greenlet_switch = (struct greenlet_switch_fields){};
    s->hdr.awaited_at = 0;
    s->hdr.nawaiting = 0;
    walk_python_stack(proc, bpf_map_lookup_elem(&twisted_processes, &tgid), tid, s);
    name_new_frames(s, slot);
    return s;
}

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
    struct py_sample *s = capture(0, EVENT_CPU_SAMPLE);
    if (!s)
        return 0;
    count(COUNTER_SAMPLES);
    emit(s);
    return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    /* prev is still current: its memory is readable, so record where it stops.
     * A thread on its way out (PF_EXITING) never comes back: forget it instead. */
    if (BPF_CORE_READ(prev, flags) & PF_EXITING) {
        __u32 tid = BPF_CORE_READ(prev, pid);
        bpf_map_delete_elem(&offcpu_start, &tid);
    } else {
        struct py_sample *s = capture(1, EVENT_OFFCPU);
        if (s) {
            __u32 tid = s->hdr.tid;
            if (bpf_map_update_elem(&offcpu_start, &tid, s, BPF_ANY))
                count(COUNTER_LOST_OFFCPU);
        }
    }

    /* next comes back: charge the time away to the stack recorded when it left. */
    __u32 next_tgid = BPF_CORE_READ(next, tgid);
    if (!bpf_map_lookup_elem(&processes, &next_tgid))
        return 0;
    __u32 next_tid = BPF_CORE_READ(next, pid);
    struct py_sample *away = bpf_map_lookup_elem(&offcpu_start, &next_tid);
    if (!away)
        return 0;
    __u64 now = bpf_ktime_get_ns();
    away->hdr.weight_ns = now > away->hdr.ktime_ns ? now - away->hdr.ktime_ns : 0;
    away->hdr.ktime_ns = now;
    emit(away);
    bpf_map_delete_elem(&offcpu_start, &next_tid);
    return 0;
}

/* Greenlet::g_switchstack(this = the target's impl, in rsi after the hidden return slot in rdi).
 * It runs before the stack switch: the thread state still shows the origin's frames.
 * Cheap on purpose (a switch-heavy service pays it per switch): the origin's park time goes into
 * a map; the target's parked stack is walked only with probability (time parked x hz), so a
 * greenlet parked for d seconds is charged d x hz ticks on average, like a sampled thread. */
SEC("uprobe")
int BPF_KPROBE(on_greenlet_switch, void *sret, void *target_impl)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    struct greenlet_process *g = bpf_map_lookup_elem(&greenlet_processes, &tgid);
    struct py_process *proc = bpf_map_lookup_elem(&processes, &tgid);
    if (!g || !proc)
        return 0;
    const struct greenlet_layout *l = &g->layout;
    __u64 impl = (__u64)target_impl;
    int fault = 0;
    struct greenlet_switch sw;
    int unreadable = read_greenlet_switch(l, impl, &sw);
    __u64 target = sw.target, origin = sw.origin, main_impl = sw.main_impl;
    count(COUNTER_GREENLET_SWITCHES);
    if (unreadable) {
        count(COUNTER_GREENLET_UNREADABLE);
        return 0;
    }

    __u32 slot = 2;
    struct py_sample *s = bpf_map_lookup_elem(&scratch, &slot);
    if (!s)
        return 0;
    __u64 now = bpf_ktime_get_ns();
    s->hdr.kind = EVENT_GREENLET_SWITCH;
    s->hdr.pid = tgid;
    s->hdr.tid = tid;
    s->hdr.flags = 0;
    s->hdr.nframes = 0;
    s->hdr.ktime_ns = now;
    s->hdr.weight_ns = 0;
    s->hdr.greenlet_switch.origin = origin;
    s->hdr.greenlet_switch.target = target;
    s->hdr.greenlet_switch.main_impl = main_impl;
    s->hdr.base_frame = 0;
    s->hdr.awaited_at = 0;
    s->hdr.nawaiting = 0;

    /* The origin parks now, unless it has no frame left: then it has ended. */
    __u64 tstate = 0;
    int head_fault = 0;
    __u64 head = current_frame(proc, tid, &tstate, &head_fault);
    struct parked_key key = {.greenlet = origin, .tgid = tgid};
    if (origin) {
        if (tstate && !head_fault && !head) {
            s->hdr.flags |= SAMPLE_ORIGIN_FINISHED;
            bpf_map_delete_elem(&parked_since, &key);
        } else if (bpf_map_update_elem(&parked_since, &key, &now, BPF_ANY)) {
            count(COUNTER_LOST_OFFCPU); /* more parked greenlets than the map holds */
        }
    }

    /* The target ends its park. One we never saw park, but which has a saved frame (it has
     * started, and has not ended), was parked before its switches were hooked: since then. */
    key.greenlet = target;
    __u64 *since = bpf_map_lookup_elem(&parked_since, &key);
    __u64 parked_at = since ? *since : 0;
    if (since) {
        bpf_map_delete_elem(&parked_since, &key);
    } else {
        int saved_fault = 0;
        if (read_u64(impl + l->suspended_frame, &saved_fault) && !saved_fault)
            parked_at = g->hooked_ns;
    }
    if (parked_at) {
        __u64 parked = now > parked_at ? now - parked_at : 0;
        s->hdr.weight_ns = parked;
        __u64 expected = parked * sample_hz; /* ticks x 1e9 */
        int walk = walk_every_park || expected >= 1000000000ULL;
        if (!walk && (__u64)(bpf_get_prandom_u32() % 1000000000U) < expected) {
            walk = 1;
            s->hdr.flags |= SAMPLE_PARK_SAMPLED;
        }
        if (walk) {
            __u64 frame = read_u64(impl + l->suspended_frame, &fault);
            if (!fault)
                walk_frames_from(proc, bpf_map_lookup_elem(&twisted_processes, &tgid), frame, s, 0);
        }
    }
    name_new_frames(s, slot);
    emit(s);
    return 0;
}

/* Generators whose step runs on a thread right now (innermost last). A step ends when its generator
 * is no longer executing, which the next event on the thread notices: the next step (of it or of
 * another generator) or the reactor's next poll. A step hook is entry-only (one trap, ~5 us). */
#define PYAT_MAX_OPEN_STEPS 8
struct open_steps {
    __u64 generator[PYAT_MAX_OPEN_STEPS];
    __u32 n;
    __u32 pad;
};
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32); /* tid */
    __type(value, struct open_steps);
} steps_running SEC(".maps");

/* 3.11+: gi_frame_state is 0 (FRAME_EXECUTING) while a step runs, < 0 suspended, > 0 done. */
static __always_inline __s8 generator_state(const struct twisted_layout *tw, __u64 gen, int *fault)
{
    __s8 state = 0;
    if (bpf_probe_read_user(&state, 1, (const void *)(gen + tw->gen_frame_state)))
        *fault = 1;
    return state;
}

/* Close the thread's steps that have ended since: a suspended generator parks from `now` (at the
 * latest: its step ended at or before this event), a finished one is forgotten. */
static __always_inline struct open_steps *close_ended_steps(const struct twisted_layout *tw, __u32 tgid,
                                                             __u32 tid, __u64 now)
{
    struct open_steps *open = bpf_map_lookup_elem(&steps_running, &tid);
    if (!open)
        return NULL;
    __u32 kept = 0;
    for (int i = 0; i < PYAT_MAX_OPEN_STEPS; i++) {
        if (i >= open->n)
            break;
        __u64 gen = open->generator[i];
        int fault = 0;
        __s8 state = generator_state(tw, gen, &fault);
        if (!fault && state == 0) {
            if (kept < PYAT_MAX_OPEN_STEPS)
                open->generator[kept & (PYAT_MAX_OPEN_STEPS - 1)] = gen;
            kept++;
            continue;
        }
        struct parked_key key = {.greenlet = gen, .tgid = tgid};
        if (!fault && state < 0) {
            if (bpf_map_update_elem(&parked_since, &key, &now, BPF_ANY))
                count(COUNTER_LOST_OFFCPU);
        } else {
            bpf_map_delete_elem(&parked_since, &key);
        }
    }
    open->n = kept;
    return open;
}

/* generator.send(value) / generator.throw(...) (gen_send, gen_throw: the generator in rdi), as
 * _inlineCallbacks steps a generator; other callers of send/throw are ignored. */
SEC("uprobe")
int BPF_KPROBE(on_generator_step, void *generator)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    const struct twisted_layout *tw = bpf_map_lookup_elem(&twisted_processes, &tgid);
    struct py_process *proc = bpf_map_lookup_elem(&processes, &tgid);
    if (!tw || !proc || !tw->gen_frame_state)
        return 0;
    count(COUNTER_GENERATOR_STEPS);
    const struct py_layout *l = &proc->layout;
    __u64 gen = (__u64)generator;
    __u64 now = bpf_ktime_get_ns();
    struct open_steps *open = close_ended_steps(tw, tgid, tid, now);

    /* Stepped by _inlineCallbacks (the Python frame calling Context.run(gen.send, ...))? */
    int fault = 0;
    __u64 tstate = 0;
    __u64 current = current_frame(proc, tid, &tstate, &fault);
    __u64 caller_code = current ? read_u64(current + l->frame_code, &fault) & ~(__u64)l->code_ptr_tag_mask : 0;
    if (fault || caller_code != tw->inline_callbacks_code)
        return 0;

    /* This step runs from now. */
    if (!open) {
        struct open_steps empty = {};
        bpf_map_update_elem(&steps_running, &tid, &empty, BPF_NOEXIST);
        open = bpf_map_lookup_elem(&steps_running, &tid);
    }
    if (open && open->n < PYAT_MAX_OPEN_STEPS) {
        open->generator[open->n & (PYAT_MAX_OPEN_STEPS - 1)] = gen;
        open->n++;
    }

    /* It ends its suspension; one suspended since before the hook was never seen to park, but
     * has a frame to resume: since the hook. */
    struct parked_key key = {.greenlet = gen, .tgid = tgid};
    __u64 *since = bpf_map_lookup_elem(&parked_since, &key);
    __u64 parked_at = since ? *since : tw->hooked_ns;
    __u64 frame = tw->gen_frame_embedded ? gen + tw->gen_frame : read_u64(gen + tw->gen_frame, &fault);
    __u64 code = frame ? read_u64(frame + l->frame_code, &fault) & ~(__u64)l->code_ptr_tag_mask : 0;
    if (fault || !code)
        return 0;
    if (since) {
        bpf_map_delete_elem(&parked_since, &key);
    } else {
        /* Parked since before the hook, if suspended: at a yield (-1 up to 3.12; 3.13+: -2 at a
         * plain yield, -1 at yield from / await), not FRAME_CREATED (its first step). */
        __s8 state = generator_state(tw, gen, &fault);
        if (fault || state >= 0 || state == tw->gen_state_created)
            return 0;
    }
    __u64 parked = now > parked_at ? now - parked_at : 0;
    __u64 expected = parked * sample_hz; /* ticks x 1e9 */
    __u16 flags = 0;
    if (expected < 1000000000ULL) {
        if ((__u64)(bpf_get_prandom_u32() % 1000000000U) >= expected)
            return 0;
        flags = SAMPLE_PARK_SAMPLED;
    }

    __u32 slot = 3;
    struct py_sample *s = bpf_map_lookup_elem(&scratch, &slot);
    if (!s)
        return 0;
    s->hdr.kind = EVENT_GENERATOR_WAIT;
    s->hdr.pid = tgid;
    s->hdr.tid = tid;
    s->hdr.flags = flags;
    s->hdr.nframes = 0;
    s->hdr.ktime_ns = now;
    s->hdr.weight_ns = parked;
    s->hdr.generator_wait = (struct generator_wait_fields){.generator = gen};
    s->hdr.base_frame = 0;
    s->hdr.awaited_at = 0;
    s->hdr.nawaiting = 0;
    /* Frame 0: the generator at its yield; then the stack resuming it (_inlineCallbacks first). */
    if (record_frame(proc, frame, code, s, 0))
        return 0;
    walk_frames_from(proc, tw, current, s, 1);
    name_new_frames(s, slot);
    emit(s);
    return 0;
}

/* tid -> when its last poll returned (threads of Twisted processes). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, __u64);
} busy_since SEC(".maps");

/* x86_64 syscall numbers of the calls an event loop waits in. */
static __always_inline int is_poll(long id)
{
    return id == 232 /* epoll_wait */ || id == 281 /* epoll_pwait */ || id == 441 /* epoll_pwait2 */ ||
           id == 7 /* poll */ || id == 271 /* ppoll */ || id == 23 /* select */ || id == 270 /* pselect6 */;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_poll_enter, struct pt_regs *regs, long id)
{
    if (!is_poll(id))
        return 0;
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
    const struct twisted_layout *tw = bpf_map_lookup_elem(&twisted_processes, &tgid);
    if (!tw)
        return 0;
    __u64 now = bpf_ktime_get_ns();
    if (tw->gen_frame_state)
        close_ended_steps(tw, tgid, tid, now); /* the loop is about to wait: no step runs */
    __u64 *since = bpf_map_lookup_elem(&busy_since, &tid);
    if (!since)
        return 0;
    __u64 start = *since;
    bpf_map_delete_elem(&busy_since, &tid);
    if (now < start || now - start < block_threshold_ns)
        return 0;
    struct event_header *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
    if (!h) {
        count(COUNTER_LOST_SAMPLES);
        return 0;
    }
    __builtin_memset(h, 0, sizeof(*h));
    h->kind = EVENT_REACTOR_BUSY;
    h->pid = tgid;
    h->tid = tid;
    h->ktime_ns = start;
    h->weight_ns = now - start;
    bpf_ringbuf_submit(h, 0);
    return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_poll_exit, struct pt_regs *regs, long ret)
{
    if (!is_poll(BPF_CORE_READ(regs, orig_ax)))
        return 0;
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
    if (!bpf_map_lookup_elem(&twisted_processes, &tgid))
        return 0;
    __u64 now = bpf_ktime_get_ns();
    bpf_map_update_elem(&busy_since, &tid, &now, BPF_ANY);
    return 0;
}

#include "twisted/deferred_log.bpf.h"

static __always_inline void emit_process_event(__u32 kind, __u32 tgid)
{
    struct event_header *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
    if (!h) {
        count(COUNTER_LOST_SAMPLES);
        return;
    }
    __builtin_memset(h, 0, sizeof(*h));
    h->kind = kind;
    h->pid = tgid;
    h->tid = tgid;
    h->ktime_ns = bpf_ktime_get_ns();
    bpf_ringbuf_submit(h, 0);
}

/* A traced process replaced by another program: its description no longer holds. Userspace hears
 * of it as an exec (and looks at the new program, if it is looking for new targets). */
static __always_inline void forget_process(__u32 tgid)
{
    bpf_map_delete_elem(&processes, &tgid);
    bpf_map_delete_elem(&greenlet_processes, &tgid);
    bpf_map_delete_elem(&twisted_processes, &tgid);
    bpf_map_delete_elem(&deferred_log_processes, &tgid);
    bpf_map_delete_elem(&deferred_import_watches, &tgid);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    int was_traced = bpf_map_lookup_elem(&processes, &tgid) != NULL;
    if (was_traced)
        forget_process(tgid);
    if (report_exec || was_traced)
        emit_process_event(EVENT_EXEC, tgid);
    return 0;
}

/* A new process forked by a traced one runs the same interpreter at the same addresses: it is
 * sampled from its first instruction on (a child living a few milliseconds is not missed), and
 * userspace hears of it to follow it like its parent. A new thread is not a new process. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
    __u32 parent_tgid = BPF_CORE_READ(parent, tgid), child_tgid = BPF_CORE_READ(child, tgid);
    if (!follow_forks || child_tgid == parent_tgid)
        return 0;
    struct py_process *proc = bpf_map_lookup_elem(&processes, &parent_tgid);
    if (!proc)
        return 0;
    if (bpf_map_update_elem(&processes, &child_tgid, proc, BPF_NOEXIST))
        return 0;
    struct event_header *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
    if (!h) {
        count(COUNTER_LOST_SAMPLES);
        return 0;
    }
    __builtin_memset(h, 0, sizeof(*h));
    h->kind = EVENT_FORK;
    h->pid = child_tgid;
    h->tid = child_tgid;
    h->fork.parent = parent_tgid;
    h->ktime_ns = bpf_ktime_get_ns();
    bpf_ringbuf_submit(h, BPF_RB_FORCE_WAKEUP);
    return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32;
    if ((__u32)id != tgid) /* a thread, not the process */
        return 0;
    if (bpf_map_lookup_elem(&processes, &tgid))
        emit_process_event(EVENT_EXIT, tgid);
    return 0;
}
