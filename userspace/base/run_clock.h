// The clocks a run is timed with: CLOCK_MONOTONIC (the kernel's bpf_ktime_get_ns()), and how to
// turn it into wall-clock (Unix) time for output.
#pragma once

#include <time.h>

#include <cstdint>

namespace pyat {

inline uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
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
