// Reading symbols, sections and segments of an ELF file (libelf); no debug info needed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proc_maps.h"
#include "unique_fd.h"

struct Elf;

namespace pyat {

struct ElfSymbol {
    uint64_t value = 0;
    uint64_t size = 0;
};

struct ElfSection {
    uint64_t addr = 0, offset = 0, size = 0;
};

struct LoadSegment {
    uint64_t vaddr = 0, offset = 0, filesz = 0, memsz = 0;
    uint32_t flags = 0;
};

class ElfFile {
public:
    // Throws pyat::Error naming the path when it cannot be opened or is not ELF.
    static ElfFile open(const std::string& path);

    ElfFile(ElfFile&& other) noexcept;
    ElfFile& operator=(ElfFile&& other) noexcept;
    ElfFile(const ElfFile&) = delete;
    ElfFile& operator=(const ElfFile&) = delete;
    ~ElfFile();

    // A defined symbol, from .dynsym first, then .symtab.
    std::optional<ElfSymbol> find_symbol(std::string_view name) const;
    std::optional<ElfSection> find_section(std::string_view name) const;
    std::vector<LoadSegment> load_segments() const;
    bool is_shared_object() const;  // ET_DYN: PIE executable or shared library
    const std::string& path() const { return path_; }

private:
    ElfFile(std::string path, UniqueFd fd, Elf* elf) : path_(std::move(path)), fd_(std::move(fd)), elf_(elf) {}
    std::optional<ElfSymbol> find_in(uint32_t section_type, std::string_view name) const;

    std::string path_;
    UniqueFd fd_;
    Elf* elf_ = nullptr;
};

// How far the file's virtual addresses are shifted in the process: 0 for a non-PIE executable;
// otherwise the start of the mapping that holds the first PT_LOAD segment, minus that segment's
// page-aligned vaddr. `path_in_maps` is the file's path as /proc/PID/maps shows it.
uint64_t load_bias(const ElfFile& elf, const std::vector<Mapping>& maps, const std::string& path_in_maps);

}  // namespace pyat
