// Reading another process's memory (process_vm_readv).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace pyat {

class ProcessMemory {
public:
    explicit ProcessMemory(pid_t pid) : pid_(pid) {}

    pid_t pid() const { return pid_; }
    // Reads exactly `size` bytes; false if any of them is unreadable (or the process is gone).
    bool read(uint64_t address, void* out, size_t size) const;
    std::optional<std::vector<uint8_t>> read_bytes(uint64_t address, size_t size) const;
    // The 8-byte word at each of `addresses`, `unreadable` where one cannot be read: as many
    // words per process_vm_readv as the kernel takes (a scan of 10,000 tasks' entries costs ten
    // system calls, not 10,000).
    std::vector<uint64_t> read_words(const std::vector<uint64_t>& addresses, uint64_t unreadable = 0) const;

    template <typename T>
    std::optional<T> read_value(uint64_t address) const {
        T value;
        if (!read(address, &value, sizeof(value))) return std::nullopt;
        return value;
    }

private:
    pid_t pid_;
};

}  // namespace pyat
