// An epoll instance over a few fds (the ring buffer, the stop signals): what a run waits on.
#pragma once

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include <fmt/format.h>

#include <initializer_list>

#include "base/error.h"
#include "base/unique_fd.h"

namespace pyat {

class EpollSet {
public:
    explicit EpollSet(std::initializer_list<int> fds) : epoll_(epoll_create1(EPOLL_CLOEXEC)) {
        if (!epoll_) throw Error(fmt::format("epoll_create1: {}", strerror(errno)));
        for (int fd : fds) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.fd = fd;
            if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
                throw Error(fmt::format("epoll_ctl: {}", strerror(errno)));
        }
    }
    // Waits until one of the fds is readable or timeout_ms passes.
    void wait(int timeout_ms) {
        epoll_event ev[4];
        if (epoll_wait(epoll_.get(), ev, 4, timeout_ms) < 0 && errno != EINTR)
            throw Error(fmt::format("epoll_wait: {}", strerror(errno)));
    }

private:
    UniqueFd epoll_;
};

}  // namespace pyat
