// The clocks a run is timed with: CLOCK_MONOTONIC (the kernel's bpf_ktime_get_ns()), how to
// turn it into wall-clock (Unix) time for output, and the tracer's own CPU time.
#pragma once

#include <sys/resource.h>
#include <time.h>

#include <cstdint>

namespace pyat {

inline uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

// The CPU time this thread has used so far (what a budget of "a share of one CPU" counts: time
// the thread was descheduled or the hypervisor stole is not in it).
inline uint64_t thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

// The CPU time (user and system, all threads) this process has used so far, in seconds.
inline double own_cpu_seconds() {
    rusage self{};
    getrusage(RUSAGE_SELF, &self);
    return double(self.ru_utime.tv_sec + self.ru_stime.tv_sec) +
           double(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6;
}

// Add to a CLOCK_MONOTONIC time to get Unix time, now.
inline int64_t monotonic_to_unix_ns() {
    timespec real{}, mono{};
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return (int64_t(real.tv_sec) - int64_t(mono.tv_sec)) * 1'000'000'000LL +
           (int64_t(real.tv_nsec) - int64_t(mono.tv_nsec));
}

}  // namespace pyat
