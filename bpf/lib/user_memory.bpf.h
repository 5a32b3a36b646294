/* Reading the current task's user memory: a word at a time, a fault noted rather than returned. */
#ifndef PYAT_USER_MEMORY_BPF_H
#define PYAT_USER_MEMORY_BPF_H

static __always_inline __u64 read_u64(__u64 addr, int *fault)
{
    __u64 v = 0;
    if (bpf_probe_read_user(&v, sizeof(v), (const void *)addr))
        *fault = 1;
    return v;
}

#endif
