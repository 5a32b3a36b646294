#include "process/usdt_probes.h"

#include <cstdint>
#include <cstring>

#include "process/elf_file.h"

namespace pyat {

namespace {
constexpr uint32_t stapsdt_note_type = 3;
constexpr size_t max_notes_bytes = 16 << 20;

size_t align4(size_t n) { return (n + 3) & ~size_t(3); }
}  // namespace

std::vector<UsdtProbe> usdt_probes(const ElfFile& elf) {
    std::vector<UsdtProbe> probes;
    auto section = elf.find_section(".note.stapsdt");
    if (!section || !section->size || section->size > max_notes_bytes) return probes;
    auto read = elf.file().read(section->offset, section->size);
    if (!read) return probes;
    const std::string& notes = *read;

    // Each note: namesz, descsz, type, the name ("stapsdt"), then the descriptor: three addresses
    // (probe, base, semaphore) and the strings provider, name, arguments.
    size_t at = 0;
    while (at + 12 <= notes.size()) {
        uint32_t namesz, descsz, type;
        std::memcpy(&namesz, notes.data() + at, 4);
        std::memcpy(&descsz, notes.data() + at + 4, 4);
        std::memcpy(&type, notes.data() + at + 8, 4);
        size_t name_at = at + 12, desc_at = name_at + align4(namesz), next = desc_at + align4(descsz);
        if (next > notes.size() || next <= at) break;
        if (type == stapsdt_note_type && descsz > 24) {
            const char* strings = notes.data() + desc_at + 24;
            size_t left = descsz - 24;
            size_t provider_len = strnlen(strings, left);
            if (provider_len < left) {
                size_t name_len = strnlen(strings + provider_len + 1, left - provider_len - 1);
                probes.push_back({std::string(strings, provider_len), std::string(strings + provider_len + 1, name_len)});
            }
        }
        at = next;
    }
    return probes;
}

bool has_usdt_probe(const std::vector<UsdtProbe>& probes, const std::string& provider, const std::string& name) {
    for (const auto& p : probes)
        if (p.provider == provider && p.name == name) return true;
    return false;
}

}  // namespace pyat
