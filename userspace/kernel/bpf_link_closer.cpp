#include "kernel/bpf_link_closer.h"

#include <bpf/libbpf.h>

#include <algorithm>

namespace pyat {

BpfLinkCloser::BpfLinkCloser() : worker_([this](std::stop_token stop) { run(stop); }) {}

BpfLinkCloser::~BpfLinkCloser() {
    worker_.request_stop();
    worker_.join();
    for (auto& [pid, link] : pending_) bpf_link__destroy(link);  // handed over after the worker's last look
}

void BpfLinkCloser::close(pid_t pid, bpf_link* link) {
    if (!link) return;
    {
        std::lock_guard lock(mutex_);
        pending_.emplace_back(pid, link);
    }
    wake_.notify_one();
}

bool BpfLinkCloser::busy_with(pid_t pid) const {
    return closing_ == pid ||
           std::any_of(pending_.begin(), pending_.end(), [pid](const auto& entry) { return entry.first == pid; });
}

void BpfLinkCloser::wait_for(pid_t pid) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return !busy_with(pid); });
}

void BpfLinkCloser::drain() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_.empty() && closing_ == 0; });
}

void BpfLinkCloser::run(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    while (true) {
        // Every link handed over is detached before the worker stops.
        wake_.wait(lock, stop, [this] { return !pending_.empty(); });
        if (pending_.empty()) return;  // stop requested, nothing left
        auto [pid, link] = pending_.front();
        pending_.pop_front();
        closing_ = pid;
        lock.unlock();
        bpf_link__destroy(link);
        lock.lock();
        closing_ = 0;
        done_.notify_all();
    }
}

}  // namespace pyat
