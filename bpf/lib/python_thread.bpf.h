/* Finding the running thread's PyThreadState and innermost frame from BPF. Everything here reads
 * the *current* task's user memory, so callers run in the context of the thread looked at
 * (perf-event sample, sched_switch's prev, a uprobe or USDT probe of the thread). */
#ifndef PYAT_PYTHON_THREAD_BPF_H
#define PYAT_PYTHON_THREAD_BPF_H

#include "abi/cpython.h"
#include "lib/user_memory.bpf.h"

/* tid -> PyThreadState* cache; entries are re-validated on every use. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, __u64);
} tstate_cache SEC(".maps");

/* The running thread's TID as its innermost PID namespace numbers it: what gettid() returned to
 * it, hence what CPython stored in native_thread_id. Inside a container (a PID namespace of its
 * own) that differs from the kernel's global TID; elsewhere it is the same. 0 if unreadable. */
static __always_inline __u32 namespaced_tid(struct task_struct *task)
{
    struct pid *pid = BPF_CORE_READ(task, thread_pid);
    if (!pid)
        return 0;
    unsigned int level = BPF_CORE_READ(pid, level);
    return (__u32)BPF_CORE_READ(pid, numbers[level].nr);
}

/* Does this PyThreadState belong to the running thread? `ns_tid`: its namespaced TID. */
static __always_inline int tstate_is_current(const struct py_layout *l, __u64 tstate, __u32 ns_tid,
                                             __u64 fsbase)
{
    int fault = 0;
    if (l->tstate_native_thread_id) {
        __u64 native = read_u64(tstate + l->tstate_native_thread_id, &fault);
        return !fault && ns_tid && (__u32)native == ns_tid;
    }
    __u64 pthread_id = read_u64(tstate + l->tstate_thread_id, &fault);
    return !fault && pthread_id == fsbase;
}

/* A thread state's innermost frame (0: none). */
static __always_inline __u64 tstate_top_frame(const struct py_layout *l, __u64 tstate, int *fault)
{
    if (l->current_frame_kind == CURRENT_FRAME_VIA_CFRAME) {
        __u64 cframe = read_u64(tstate + l->tstate_cframe, fault);
        return cframe ? read_u64(cframe + l->cframe_current_frame, fault) : 0;
    }
    return read_u64(tstate + l->tstate_frame, fault);
}

/* Two thread states can claim one thread: a thread starting another creates the new one's
 * state, which carries the creator's thread id (3.8-3.11) until the new thread runs. The
 * creator's own is the one with frames; a match without any is kept only if no other matches. */
struct thread_search {
    const struct py_layout *layout;
    __u64 tstate;  /* candidate; the match when found */
    __u64 frameless; /* the first match that had no frame */
    __u64 fsbase;
    __u32 ns_tid;
    int found;
};

static long thread_search_step(__u32 index, void *ctx)
{
    struct thread_search *t = ctx;
    int fault = 0;
    if (!t->tstate)
        return 1;
    if (tstate_is_current(t->layout, t->tstate, t->ns_tid, t->fsbase)) {
        if (tstate_top_frame(t->layout, t->tstate, &fault) || fault) {
            t->found = 1;
            return 1;
        }
        if (!t->frameless)
            t->frameless = t->tstate;
    }
    t->tstate = read_u64(t->tstate + t->layout->tstate_next, &fault);
    return fault ? 1 : 0;
}

/* The running thread's PyThreadState, or 0 when it has none. `tid`: its global TID (the cache's
 * key); the thread state is matched by the TID the thread itself sees (see namespaced_tid). */
static __always_inline __u64 find_thread_state(const struct py_process *proc, __u32 tid)
{
    const struct py_layout *l = &proc->layout;
    struct task_struct *task = bpf_get_current_task_btf();
    __u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
    __u32 ns_tid = l->tstate_native_thread_id ? namespaced_tid(task) : 0;

    __u64 *cached = bpf_map_lookup_elem(&tstate_cache, &tid);
    int fault = 0;
    if (cached && *cached && tstate_is_current(l, *cached, ns_tid, fsbase) &&
        (tstate_top_frame(l, *cached, &fault) || fault))
        return *cached;

    fault = 0;
    __u64 interp = read_u64(proc->runtime_addr + l->runtime_interpreters_head, &fault);
    if (fault || !interp)
        return 0;
    struct thread_search search = {
        .layout = l,
        .tstate = read_u64(interp + l->interp_threads_head, &fault),
        .fsbase = fsbase,
        .ns_tid = ns_tid,
    };
    if (fault)
        return 0;
    bpf_loop(PYAT_MAX_THREADS, thread_search_step, &search, 0);
    if (!search.found) {
        if (!search.frameless)
            return 0;
        search.tstate = search.frameless;
    }
    bpf_map_update_elem(&tstate_cache, &tid, &search.tstate, BPF_ANY);
    return search.tstate;
}

/* The innermost frame of the running thread (0: none); *tstate_out gets its PyThreadState. */
static __always_inline __u64 current_frame(const struct py_process *proc, __u32 tid, __u64 *tstate_out,
                                           int *fault)
{
    const struct py_layout *l = &proc->layout;
    __u64 tstate = find_thread_state(proc, tid);
    *tstate_out = tstate;
    if (!tstate)
        return 0;
    return tstate_top_frame(l, tstate, fault);
}

#endif
