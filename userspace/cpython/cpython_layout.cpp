#include "cpython/cpython_layout.h"

#include <fmt/format.h>

namespace pyat {

namespace {
#include "cpython_layouts.inc"
}  // namespace

std::string CpythonLayout::version() const { return fmt::format("{}.{}", major, minor); }

const std::vector<CpythonLayout>& known_cpython_layouts() {
    static const std::vector<CpythonLayout> layouts = generated_cpython_layouts();
    return layouts;
}

const CpythonLayout* find_cpython_layout(int major, int minor) {
    for (const auto& l : known_cpython_layouts())
        if (l.major == major && l.minor == minor) return &l;
    return nullptr;
}

std::string supported_cpython_versions() {
    std::string out;
    for (const auto& l : known_cpython_layouts()) out += (out.empty() ? "" : ", ") + l.version();
    return out;
}

code_layout kernel_code_layout(const CpythonLayout& l) {
    code_layout c{};
    c.object_type = l.object_type;
    c.code_name = l.code_qualname ? l.code_qualname : l.bpf.code_name;
    c.code_name_pointer = l.bpf.code_name;
    c.code_filename = l.bpf.code_filename;
    c.code_firstlineno = l.code_firstlineno;
    c.code_linetable = l.code_linetable;
    c.bytes_size = l.bytes_size;
    c.bytes_data = l.bytes_data;
    c.unicode_length = l.unicode_length;
    c.unicode_state = l.unicode_state;
    c.unicode_ascii_data = l.unicode_ascii_data;
    c.unicode_compact_data = l.unicode_compact_data;
    c.unicode_utf8 = l.unicode_utf8;
    return c;
}

}  // namespace pyat
