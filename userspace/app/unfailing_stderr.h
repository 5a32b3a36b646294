// stderr whose writes never fail: once nobody reads it (a pipe whose reader exited, a terminal that
// hung up), what the tracer prints goes to /dev/null instead of throwing (fmt::print does on a
// failed write), so the profile is still written.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

namespace pyat {

namespace detail {

inline ssize_t write_or_drop(void*, const char* data, size_t size) {
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::write(STDERR_FILENO, data + done, size - done);
        if (n > 0) {
            done += size_t(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n < 0 && (errno == EPIPE || errno == EIO)) {  // nobody will ever read it again
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0) {
                    dup2(null, STDERR_FILENO);
                    close(null);
                }
            }
            break;  // EAGAIN (a non-blocking terminal), ENOSPC...: this message is lost
        }
    }
    return ssize_t(size);
}

}  // namespace detail

// Called once, first thing in main(): `stderr` becomes an unbuffered stream writing to fd 2 so.
inline void make_stderr_unfailing() {
    cookie_io_functions_t io{};
    io.write = detail::write_or_drop;
    FILE* unfailing = fopencookie(nullptr, "w", io);
    if (!unfailing) return;
    setvbuf(unfailing, nullptr, _IONBF, 0);
    stderr = unfailing;
}

}  // namespace pyat
