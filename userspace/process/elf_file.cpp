#include "process/elf_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/error.h"

namespace pyat {

ElfFile ElfFile::open(TargetFile file) {
    const std::string& name = file.name();
    if (elf_version(EV_CURRENT) == EV_NONE) throw Error(fmt::format("cannot read {}: libelf is too old", name));
    Elf* elf = elf_begin(file.fd(), ELF_C_READ_MMAP, nullptr);
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        if (elf) elf_end(elf);
        throw Error(fmt::format("{} is not an ELF file", name));
    }
    GElf_Ehdr ehdr;
    if (!gelf_getehdr(elf, &ehdr)) {
        elf_end(elf);
        throw Error(fmt::format("{} is not an ELF file: {}", name, elf_errmsg(-1)));
    }
    return ElfFile(std::move(file), elf);
}

ElfFile ElfFile::open(const std::string& path) { return open(TargetFile::at(path)); }

ElfFile::ElfFile(ElfFile&& other) noexcept : file_(std::move(other.file_)), elf_(std::exchange(other.elf_, nullptr)) {}

ElfFile& ElfFile::operator=(ElfFile&& other) noexcept {
    if (this != &other) {
        if (elf_) elf_end(elf_);
        file_ = std::move(other.file_);
        elf_ = std::exchange(other.elf_, nullptr);
    }
    return *this;
}

ElfFile::~ElfFile() {
    if (elf_) elf_end(elf_);  // before file_ closes
}

namespace {
// Calls `entry(shdr, data, i)` for every entry of every section of `section_type` (a table with
// fixed-size entries) until it returns true; true if one did.
template <typename Entry>
bool for_each_entry(Elf* elf, uint32_t section_type, Entry entry) {
    Elf_Scn* scn = nullptr;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != section_type || shdr.sh_entsize == 0) continue;
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (!data) continue;
        const size_t count = shdr.sh_size / shdr.sh_entsize;
        for (size_t i = 0; i < count && i <= size_t(INT32_MAX); i++)
            if (entry(shdr, data, int(i))) return true;
    }
    return false;
}
}  // namespace

std::optional<ElfSymbol> ElfFile::find_in(uint32_t section_type, std::string_view name) const {
    std::optional<ElfSymbol> found;
    for_each_entry(elf_, section_type, [&](const GElf_Shdr& shdr, Elf_Data* data, int i) {
        GElf_Sym sym;
        if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF) return false;
        int type = GELF_ST_TYPE(sym.st_info);
        if (type == STT_SECTION || type == STT_FILE) return false;
        const char* sym_name = elf_strptr(elf_, shdr.sh_link, sym.st_name);
        if (!sym_name || name != sym_name) return false;
        found = ElfSymbol{sym.st_value, sym.st_size, type == STT_TLS};
        return true;
    });
    return found;
}

std::optional<ElfSymbol> ElfFile::find_symbol(std::string_view name) const {
    if (name.empty()) return std::nullopt;
    if (auto s = find_in(SHT_DYNSYM, name)) return s;
    return find_in(SHT_SYMTAB, name);
}

std::optional<ElfSection> ElfFile::find_section(std::string_view name) const {
    size_t shstrndx = 0;
    if (elf_getshdrstrndx(elf_, &shstrndx) != 0) return std::nullopt;
    Elf_Scn* scn = nullptr;
    while ((scn = elf_nextscn(elf_, scn))) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr)) continue;
        const char* n = elf_strptr(elf_, shstrndx, shdr.sh_name);
        if (n && name == n) return ElfSection{shdr.sh_addr, shdr.sh_offset, shdr.sh_size};
    }
    return std::nullopt;
}

std::vector<LoadSegment> ElfFile::load_segments() const {
    std::vector<LoadSegment> segments;
    size_t count = 0;
    if (elf_getphdrnum(elf_, &count) != 0) return segments;
    for (size_t i = 0; i < count && i <= size_t(INT32_MAX); i++) {
        GElf_Phdr phdr;
        if (gelf_getphdr(elf_, int(i), &phdr) && phdr.p_type == PT_LOAD)
            segments.push_back({phdr.p_vaddr, phdr.p_offset, phdr.p_filesz, phdr.p_memsz, phdr.p_flags});
    }
    return segments;
}

bool ElfFile::is_shared_object() const {
    GElf_Ehdr ehdr;
    return gelf_getehdr(elf_, &ehdr) && ehdr.e_type == ET_DYN;
}

std::optional<std::string> ElfFile::read_bytes(uint64_t vaddr, size_t size) const {
    for (const auto& seg : load_segments()) {
        if (vaddr < seg.vaddr || vaddr - seg.vaddr > seg.memsz || size > seg.memsz - (vaddr - seg.vaddr)) continue;
        uint64_t rel = vaddr - seg.vaddr;
        std::string bytes(size, '\0');
        // The part backed by the file; what lies past p_filesz stays zero (.bss).
        size_t from_file = rel >= seg.filesz ? 0 : size_t(std::min<uint64_t>(size, seg.filesz - rel));
        if (from_file) {
            auto backed = file_.read(seg.offset + rel, from_file);
            if (!backed) return std::nullopt;  // truncated file or I/O error
            bytes.replace(0, from_file, *backed);
        }
        return bytes;
    }
    return std::nullopt;
}

std::optional<uint64_t> ElfFile::file_offset(uint64_t vaddr) const {
    for (const auto& seg : load_segments())
        if (vaddr >= seg.vaddr && vaddr - seg.vaddr < seg.filesz) return seg.offset + (vaddr - seg.vaddr);
    return std::nullopt;
}

std::map<uint64_t, uint64_t> ElfFile::relative_pointers() const {
    std::map<uint64_t, uint64_t> out;
    GElf_Ehdr ehdr;
    if (!gelf_getehdr(elf_, &ehdr) || ehdr.e_machine != EM_X86_64) return out;
    for_each_entry(elf_, SHT_RELA, [&](const GElf_Shdr&, Elf_Data* data, int i) {
        GElf_Rela rela;
        if (gelf_getrela(data, i, &rela) && GELF_R_TYPE(rela.r_info) == R_X86_64_RELATIVE)
            out[rela.r_offset] = uint64_t(rela.r_addend);
        return false;
    });
    return out;
}

std::optional<uint64_t> ElfFile::find_string(std::string_view section, std::string_view text) const {
    auto where = find_section(section);
    if (!where || text.empty() || where->size > (64u << 20)) return std::nullopt;
    auto bytes = file_.read(where->offset, size_t(where->size));
    if (!bytes) return std::nullopt;
    const std::string wanted = std::string(text) + '\0';
    for (size_t at = bytes->find(wanted); at != std::string::npos; at = bytes->find(wanted, at + 1))
        if (at == 0 || (*bytes)[at - 1] == '\0') return where->addr + at;
    return std::nullopt;
}

uint64_t load_bias(const ElfFile& elf, const std::vector<Mapping>& maps, const std::string& path_in_maps) {
    if (!elf.is_shared_object()) return 0;  // ET_EXEC: loaded at its link-time addresses
    auto segments = elf.load_segments();
    if (segments.empty()) throw Error(fmt::format("{} has no loadable segment", elf.path()));
    // A mapping of the file at file offset O starting at address A puts file byte f at
    // A + (f - O); the first PT_LOAD puts file byte p_offset at p_vaddr + bias. The loader maps
    // that segment first and lowest, so the first mapping in address order that holds p_offset is
    // it. p_offset and p_vaddr are congruent modulo the page size: no page size is assumed here.
    const LoadSegment& first = segments.front();
    for (const auto& m : maps)
        if (m.path == path_in_maps && first.offset >= m.offset && first.offset - m.offset < m.end - m.start)
            return m.start + (first.offset - m.offset) - first.vaddr;
    throw Error(fmt::format("{} is not mapped in the process (no mapping holds its first loadable segment)",
                            path_in_maps));
}

}  // namespace pyat
