#include "cpython_layout.h"

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

}  // namespace pyat
