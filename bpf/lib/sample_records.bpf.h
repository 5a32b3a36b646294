/* Building and sending the sampler's records: a record's header started in one place, a sample
 * sent with only its frames used, a header-only record reserved in the ring buffer. */
#ifndef PYAT_SAMPLE_RECORDS_BPF_H
#define PYAT_SAMPLE_RECORDS_BPF_H

#include "abi/events.h"
#include "lib/sampler.bpf.h"

/* Start a record: its kind, process, thread and time; every other header field zero. */
static __always_inline void start_record(struct event_header *h, __u32 kind, __u32 tgid, __u32 tid, __u64 ktime_ns)
{
    __builtin_memset(h, 0, sizeof(*h));
    h->kind = kind;
    h->pid = tgid;
    h->tid = tid;
    h->ktime_ns = ktime_ns;
}

/* A record without frames, started in the ring buffer; NULL (counted lost) when it is full. The
 * caller fills in the rest and submits it. */
static __always_inline struct event_header *reserve_header_record(__u32 kind, __u32 tgid, __u32 tid, __u64 ktime_ns)
{
    struct event_header *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
    if (!h) {
        count(COUNTER_LOST_SAMPLES);
        return NULL;
    }
    start_record(h, kind, tgid, tid, ktime_ns);
    return h;
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

#endif
