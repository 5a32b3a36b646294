#include "cpython/code_resolver.h"

#include <fmt/format.h>

#include <cstddef>
#include <span>

#include "cpython/line_table.h"
#include "base/text_encoding.h"

namespace pyat {

namespace {
constexpr size_t max_line_table_bytes = 1 << 20;
constexpr size_t max_cached_code_objects = 200'000;

std::string decode(const char* bytes, size_t copied, unsigned kind) {
    if (!kind) return "";
    return utf8_from_code_units(reinterpret_cast<const uint8_t*>(bytes), copied / kind, kind);
}
}  // namespace

uint32_t code_tag(uint64_t name_ptr, uint64_t filename_ptr) {
    uint64_t mixed = (name_ptr >> 3) ^ (filename_ptr << 13) ^ (filename_ptr >> 35);
    return uint32_t(mixed) ^ uint32_t(mixed >> 32);
}

CodeResolver::CodeResolver(ProcessMemory memory, const CpythonLayout& layout, uint64_t code_type,
                           StillNamed still_named)
    : memory_(memory),
      layout_(layout),
      objects_(memory, layout),
      code_type_(code_type),
      still_named_(std::move(still_named)) {}

CodeResolver::CodeInfo& CodeResolver::store(const Key& key, CodeInfo info) {
    if (code_.size() >= max_cached_code_objects) code_.clear();  // bounded memory on exec-heavy targets
    auto [it, inserted] = code_.insert_or_assign(key, std::move(info));
    return it->second;
}

void CodeResolver::learn(const code_name_event& e, size_t size) {
    const size_t header = offsetof(code_name_event, table);
    if (size < header || e.generation == 0) return;
    CodeInfo info;
    info.first_line = uint32_t(std::max(e.first_line, 0));
    info.name = decode(e.name, std::min<size_t>(e.name_bytes, sizeof(e.name)), e.name_kind);
    info.file = decode(e.file, std::min<size_t>(e.file_bytes, sizeof(e.file)), e.file_kind);
    // Cut to the buffer: say so rather than pass a part for the whole.
    if (e.name_kind && e.name_length > e.name_bytes / e.name_kind) info.name += "...";
    if (e.file_kind && e.file_length > e.file_bytes / e.file_kind) info.file += "...";
    size_t table_bytes = std::min<size_t>({e.table_bytes, sizeof(e.table), size - header});
    info.line_table.assign(e.table, e.table + table_bytes);
    info.table_size = e.table_size;
    if (info.name.empty()) info.name = fmt::format("[code object 0x{:x}]", e.code);
    if (info.file.empty()) info.file = "<unknown>";
    store({e.code, e.generation}, std::move(info));
}

std::optional<CodeResolver::CodeInfo> CodeResolver::read(uint64_t code) const {
    if (code_type_ && memory_.read_value<uint64_t>(code + layout_.object_type).value_or(0) != code_type_)
        return std::nullopt;
    const auto& b = layout_.bpf;
    auto name_ptr = memory_.read_value<uint64_t>(code + (layout_.code_qualname ? layout_.code_qualname : b.code_name));
    auto file_ptr = memory_.read_value<uint64_t>(code + b.code_filename);
    if (!name_ptr || !file_ptr) return std::nullopt;
    CodeInfo info;
    info.name = objects_.read_unicode(*name_ptr);
    info.file = objects_.read_unicode(*file_ptr);
    if (info.name.empty() || info.file.empty()) return std::nullopt;
    info.first_line = uint32_t(std::max(memory_.read_value<int32_t>(code + layout_.code_firstlineno).value_or(0), 0));
    if (auto table_ptr = memory_.read_value<uint64_t>(code + layout_.code_linetable)) {
        auto size = memory_.read_value<int64_t>(*table_ptr + layout_.bytes_size);
        if (size && *size > 0 && size_t(*size) <= max_line_table_bytes)
            if (auto bytes = memory_.read_bytes(*table_ptr + layout_.bytes_data, size_t(*size))) {
                info.line_table = std::move(*bytes);
                info.table_size = uint32_t(info.line_table.size());
            }
    }
    return info;
}

bool CodeResolver::interpreter_shim(uint64_t code) const {
    auto name_ptr = memory_.read_value<uint64_t>(code + layout_.bpf.code_name);
    auto file_ptr = memory_.read_value<uint64_t>(code + layout_.bpf.code_filename);
    if (!name_ptr || !file_ptr || *name_ptr != *file_ptr) return false;
    return memory_.read_value<int32_t>(code + layout_.code_firstlineno) == 0;
}

CodeResolver::CodeInfo CodeResolver::placeholder(const Key& key) const {
    CodeInfo info;
    info.named = false;
    info.name = key.generation ? fmt::format("[code object 0x{:x}, freed]", key.code)
                               : fmt::format("[code object 0x{:x}, not named]", key.code);
    return info;
}

uint32_t CodeResolver::learn_from_memory(uint64_t code) {
    auto info = read(code);
    if (!info) return 0;
    uint32_t generation = PYAT_USERSPACE_GENERATION | next_userspace_generation_++;
    if (next_userspace_generation_ >= PYAT_USERSPACE_GENERATION) next_userspace_generation_ = 1;
    store({code, generation}, std::move(*info));
    return generation;
}

uint32_t CodeResolver::line_of(CodeInfo& info, const Key& key, int32_t instr) {
    if (instr < 0 || info.line_table.empty()) return info.first_line;
    if (auto cached = info.lines.find(instr); cached != info.lines.end()) return cached->second;
    auto table = std::span<const uint8_t>(info.line_table);
    LineLookup found = find_line(layout_.line_table, table, int(info.first_line), uint32_t(instr));
    if (!found.covered && info.table_size > info.line_table.size() && still_named_) {
        // The event carried only the table's start: read the rest while the object is alive.
        if (auto whole = read(key.code);
            whole && whole->table_size == info.table_size && still_named_(key.code, key.generation)) {
            info.line_table = std::move(whole->line_table);
            found = find_line(layout_.line_table, std::span<const uint8_t>(info.line_table), int(info.first_line),
                              uint32_t(instr));
        }
    }
    uint32_t line = found.covered && found.line > 0 ? uint32_t(found.line) : info.first_line;
    info.lines.emplace(instr, line);
    return line;
}

ResolvedFrame CodeResolver::resolve(const py_frame& frame) {
    Key key{frame.code, frame.code_tag};
    auto it = code_.find(key);
    CodeInfo* info = it == code_.end() ? nullptr : &it->second;
    if (!info) {
        // No naming event for it (lost, or forgotten to bound memory): read it only if the
        // kernel names that object by this generation both before and after the read.
        std::optional<CodeInfo> read_now;
        bool kernel_named = key.generation && !(key.generation & PYAT_USERSPACE_GENERATION) && still_named_;
        if (kernel_named && still_named_(key.code, key.generation)) {
            read_now = read(key.code);
            if (read_now && !still_named_(key.code, key.generation)) read_now.reset();
        }
        info = &store(key, read_now ? std::move(*read_now) : placeholder(key));
    }
    if (!info->named) unresolved_++;
    return {&info->name, &info->file, info->first_line, line_of(*info, key, frame.instr)};
}

}  // namespace pyat
