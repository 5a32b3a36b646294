#include "code_resolver.h"

#include <fmt/format.h>

#include <span>

#include "line_table.h"

namespace pyat {

namespace {
constexpr size_t max_line_table_bytes = 1 << 20;
constexpr size_t max_cached_code_objects = 200'000;
}  // namespace

uint32_t code_tag(uint64_t name_ptr, uint64_t filename_ptr) {
    uint64_t mixed = (name_ptr >> 3) ^ (filename_ptr << 13) ^ (filename_ptr >> 35);
    return uint32_t(mixed) ^ uint32_t(mixed >> 32);
}

CodeResolver::CodeResolver(ProcessMemory memory, const CpythonLayout& layout)
    : memory_(memory), layout_(layout), objects_(memory, layout) {}

void CodeResolver::clear() { code_.clear(); }

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
    info.name = qualname_ptr ? objects_.read_unicode(qualname_ptr) : "";
    if (info.name.empty()) info.name = objects_.read_unicode(*name_ptr);
    if (info.name.empty()) info.name = fmt::format("[code object 0x{:x}]", key.code);
    info.file = objects_.read_unicode(*file_ptr);
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
