#include "process/process_memory.h"

#include <sys/uio.h>

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

}  // namespace pyat
