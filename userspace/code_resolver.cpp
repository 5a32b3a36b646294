#include "code_resolver.h"

#include <fmt/format.h>

#include <span>

#include "line_table.h"

namespace pyat {

namespace {
constexpr size_t max_name_chars = 4096;
constexpr size_t max_line_table_bytes = 1 << 20;
constexpr size_t max_cached_code_objects = 200'000;

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xc0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += char(0xe0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    } else {
        out += char(0xf0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3f));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    }
}
}  // namespace

uint32_t code_tag(uint64_t name_ptr, uint64_t filename_ptr) {
    uint64_t mixed = (name_ptr >> 3) ^ (filename_ptr << 13) ^ (filename_ptr >> 35);
    return uint32_t(mixed) ^ uint32_t(mixed >> 32);
}

CodeResolver::CodeResolver(ProcessMemory memory, const CpythonLayout& layout)
    : memory_(memory), layout_(layout) {}

void CodeResolver::clear() { code_.clear(); }

std::string CodeResolver::read_unicode(uint64_t address) const {
    auto length = memory_.read_value<int64_t>(address + layout_.unicode_length);
    auto state = memory_.read_value<uint32_t>(address + layout_.unicode_state);
    if (!length || !state || *length < 0) return {};
    size_t n = std::min<size_t>(size_t(*length), max_name_chars);
    unsigned kind = (*state >> 2) & 7;
    bool compact = (*state >> 5) & 1;
    bool ascii = (*state >> 6) & 1;
    if (!compact || (kind != 1 && kind != 2 && kind != 4)) return {};
    if (ascii) {
        std::string s(n, '\0');
        if (!memory_.read(address + layout_.unicode_ascii_data, s.data(), n)) return {};
        return s;
    }
    auto raw = memory_.read_bytes(address + layout_.unicode_compact_data, n * kind);
    if (!raw) return {};
    std::string s;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = 0;
        for (unsigned b = 0; b < kind; b++) cp |= uint32_t((*raw)[i * kind + b]) << (8 * b);
        append_utf8(s, cp);
    }
    return s;
}

CodeResolver::CodeInfo CodeResolver::load(const Key& key) const {
    CodeInfo info;
    const auto& b = layout_.bpf;
    auto name_ptr = memory_.read_value<uint64_t>(key.code + b.code_name);
    auto file_ptr = memory_.read_value<uint64_t>(key.code + b.code_filename);
    if (!name_ptr || !file_ptr || code_tag(*name_ptr, *file_ptr) != key.tag) {
        // Freed (or reused for another function) before we got to it: never guess a name.
        info.name = fmt::format("[code object 0x{:x}, gone]", key.code);
        return info;
    }
    uint64_t qualname_ptr = 0;
    if (layout_.code_qualname)
        qualname_ptr = memory_.read_value<uint64_t>(key.code + layout_.code_qualname).value_or(0);
    info.name = qualname_ptr ? read_unicode(qualname_ptr) : "";
    if (info.name.empty()) info.name = read_unicode(*name_ptr);
    if (info.name.empty()) info.name = fmt::format("[code object 0x{:x}]", key.code);
    info.file = read_unicode(*file_ptr);
    if (info.file.empty()) info.file = "<unknown>";
    info.first_line = uint32_t(memory_.read_value<int32_t>(key.code + layout_.code_firstlineno).value_or(0));

    if (auto table_ptr = memory_.read_value<uint64_t>(key.code + layout_.code_linetable)) {
        auto size = memory_.read_value<int64_t>(*table_ptr + layout_.bytes_size);
        if (size && *size > 0 && size_t(*size) <= max_line_table_bytes)
            if (auto bytes = memory_.read_bytes(*table_ptr + layout_.bytes_data, size_t(*size)))
                info.line_table = std::move(*bytes);
    }
    return info;
}

ResolvedFrame CodeResolver::resolve(const py_frame& frame) {
    Key key{frame.code, frame.code_tag};
    auto it = code_.find(key);
    if (it == code_.end()) {
        if (code_.size() >= max_cached_code_objects) code_.clear();  // bounded memory on exec-heavy targets
        it = code_.emplace(key, load(key)).first;
    }
    CodeInfo& info = it->second;

    uint32_t line = info.first_line;
    if (frame.instr >= 0 && !info.line_table.empty()) {
        auto cached = info.lines.find(frame.instr);
        if (cached != info.lines.end()) {
            line = cached->second;
        } else {
            int l = line_for_offset(layout_.line_table, std::span<const uint8_t>(info.line_table),
                                    int(info.first_line), uint32_t(frame.instr));
            line = l > 0 ? uint32_t(l) : info.first_line;
            info.lines.emplace(frame.instr, line);
        }
    }
    return {&info.name, &info.file, info.first_line, line};
}

}  // namespace pyat
