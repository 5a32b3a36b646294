// Reading symbols, sections and segments of an ELF file (libelf); no debug info needed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "process/proc_maps.h"
#include "process/target_file.h"

struct Elf;

namespace pyat {

struct ElfSymbol {
    uint64_t value = 0;  // a virtual address; for a TLS symbol, the offset in the module's TLS block
    uint64_t size = 0;
    bool tls = false;    // STT_TLS: `value` is not an address
};

struct ElfSection {
    uint64_t addr = 0, offset = 0, size = 0;
};

struct LoadSegment {
    uint64_t vaddr = 0, offset = 0, filesz = 0, memsz = 0;
    uint32_t flags = 0;  // PF_R / PF_W / PF_X
};

class ElfFile {
public:
    // Throws pyat::Error naming the file when it is not ELF.
    static ElfFile open(TargetFile file);
    // A file named by the user (see TargetFile::at); throws pyat::Error naming the path when it
    // cannot be opened, is not a regular file (never blocking on a FIFO) or is not ELF.
    static ElfFile open(const std::string& path);

    ElfFile(ElfFile&& other) noexcept;
    ElfFile& operator=(ElfFile&& other) noexcept;
    ElfFile(const ElfFile&) = delete;
    ElfFile& operator=(const ElfFile&) = delete;
    ~ElfFile();

    // A defined symbol, from .dynsym first, then .symtab (present only in unstripped files).
    std::optional<ElfSymbol> find_symbol(std::string_view name) const;
    std::optional<ElfSection> find_section(std::string_view name) const;
    std::vector<LoadSegment> load_segments() const;  // the PT_LOAD program headers, in file order
    bool is_shared_object() const;                   // ET_DYN: PIE executable or shared library
    const std::string& path() const { return file_.name(); }  // for messages
    const TargetFile& file() const { return file_; }

    // `size` bytes of the file's image at virtual address `vaddr` (as the loader would map them:
    // the zero-filled tail of a segment reads as zeros), or nullopt unless all of them lie in one
    // PT_LOAD segment.
    std::optional<std::string> read_bytes(uint64_t vaddr, size_t size) const;
    // Where the file holds the byte at virtual address `vaddr` (nullopt: in no file-backed part
    // of a PT_LOAD segment): the offset a uprobe takes.
    std::optional<uint64_t> file_offset(uint64_t vaddr) const;

    // The pointers the loader fills in with the load address (x86-64 R_X86_64_RELATIVE
    // relocations): where each is stored -> the virtual address it points to. How a stripped
    // library's static tables (type objects, method tables) are read without symbols.
    std::map<uint64_t, uint64_t> relative_pointers() const;
    // The virtual address of the NUL-terminated string `text` in section `section` (e.g. ".rodata"),
    // as a whole string (not the tail of a longer one); nullopt if it is not there.
    std::optional<uint64_t> find_string(std::string_view section, std::string_view text) const;

private:
    ElfFile(TargetFile file, Elf* elf) : file_(std::move(file)), elf_(elf) {}
    std::optional<ElfSymbol> find_in(uint32_t section_type, std::string_view name) const;

    TargetFile file_;
    Elf* elf_ = nullptr;
};

// How far the file's virtual addresses are shifted in the process: 0 for a non-PIE executable
// (ET_EXEC); otherwise computed from the process's mapping of the file that holds the first PT_LOAD
// segment (runtime address of a symbol = bias + its value). `path_in_maps` is the file's path
// exactly as /proc/PID/maps shows it. Throws pyat::Error when no mapping of that path holds a
// loadable segment.
uint64_t load_bias(const ElfFile& elf, const std::vector<Mapping>& maps, const std::string& path_in_maps);

}  // namespace pyat
