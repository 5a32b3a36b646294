#include "process/process_memory.h"

#include <cerrno>
#include <sys/uio.h>

#include <algorithm>

namespace pyat {

bool ProcessMemory::read(uint64_t address, void* out, size_t size) const {
    if (size == 0) return true;
    if (address == 0) return false;
    iovec local{out, size};
    iovec remote{reinterpret_cast<void*>(address), size};
    return process_vm_readv(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size);
}

std::optional<std::vector<uint8_t>> ProcessMemory::read_bytes(uint64_t address, size_t size) const {
    std::vector<uint8_t> bytes(size);
    if (!read(address, bytes.data(), size)) return std::nullopt;
    return bytes;
}

std::vector<uint64_t> ProcessMemory::read_words(const std::vector<uint64_t>& addresses, uint64_t unreadable) const {
    constexpr size_t max_ranges = 1024;  // UIO_MAXIOV
    std::vector<uint64_t> words(addresses.size(), unreadable);
    std::vector<iovec> local, remote;
    size_t at = 0;
    while (at < addresses.size()) {
        // The kernel reads the ranges in order and stops at the first it cannot read: the words
        // before it are good, that one is skipped, and the next call goes on after it.
        const size_t n = std::min<size_t>(addresses.size() - at, max_ranges);
        local.clear();
        remote.clear();
        for (size_t i = 0; i < n; i++) {
            local.push_back({&words[at + i], 8});
            remote.push_back({reinterpret_cast<void*>(addresses[at + i]), 8});
        }
        ssize_t got = process_vm_readv(pid_, local.data(), n, remote.data(), n, 0);
        if (got < 0 && errno != EFAULT) break;  // gone, or not ours to read: none of them is readable
        size_t whole = got > 0 ? size_t(got) / 8 : 0;
        if (whole < n) {
            // (a word read in part is as unreadable as one not read)
            words[at + whole] = unreadable;
            at += whole + 1;
        } else {
            at += n;
        }
    }
    return words;
}

}  // namespace pyat
