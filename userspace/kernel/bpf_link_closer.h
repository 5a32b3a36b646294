// Detaching a uprobe makes the kernel wait for every CPU to leave its probe handlers, which takes
// tens of milliseconds (80 ms measured here for one link). The run's loop must not wait that long
// while a target that just exec'd another program goes unsampled, so the links of a process no
// longer traced are handed to a thread of their own that detaches them in the background.
// A process's new hooks wait for its old ones (wait_for), so that an old hook never fires beside
// its replacement (a program exec'd anew from the same file). The destructor (and drain()) returns
// once every link handed over is detached.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include <sys/types.h>

struct bpf_link;

namespace pyat {

class BpfLinkCloser {
public:
    BpfLinkCloser();
    ~BpfLinkCloser();
    BpfLinkCloser(const BpfLinkCloser&) = delete;
    BpfLinkCloser& operator=(const BpfLinkCloser&) = delete;

    // Takes ownership of `link`, a hook of process `pid` (null is ignored), and detaches it soon.
    void close(pid_t pid, bpf_link* link);
    // Returns once every link of `pid` handed over so far is detached.
    void wait_for(pid_t pid);
    // Returns once every link handed over so far is detached.
    void drain();

private:
    void run(std::stop_token stop);

    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::condition_variable done_;
    bool busy_with(pid_t pid) const;  // mutex_ held

    std::deque<std::pair<pid_t, bpf_link*>> pending_;
    pid_t closing_ = 0;  // whose link the worker is detaching now (0: none)
    std::jthread worker_;  // last: started once the rest is built, stopped and joined first
};

}  // namespace pyat
