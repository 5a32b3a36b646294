#include "runtimes/greenlet/greenlet_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "base/error.h"
#include "process/target_file.h"

namespace pyat {

namespace {
#include "greenlet_layouts.inc"

// "2.0.2" from greenlet/__init__.py beside the extension (`__version__ = '2.0.2'`), read inside the
// process's root (never following a link planted there); "" if unreadable.
std::string greenlet_version(pid_t pid, const std::string& so_path) {
    std::string so = without_deleted_suffix(so_path);
    auto slash = so.rfind('/');
    if (slash == std::string::npos) return "";
    constexpr size_t max_init_bytes = 256 << 10;
    std::string text;
    try {
        TargetFile init = TargetFile::in_root(pid, so.substr(0, slash) + "/__init__.py");
        text = init.read(0, size_t(std::min<uint64_t>(init.size(), max_init_bytes))).value_or("");
    } catch (const Error&) {
        return "";
    }
    static const std::regex re(R"(__version__\s*=\s*['"]([0-9][^'"]*)['"])");
    std::smatch m;
    if (std::regex_search(text, m, re)) return m[1];
    return "";
}
}  // namespace

const std::vector<GreenletLayout>& known_greenlet_layouts() {
    static const std::vector<GreenletLayout> layouts = generated_greenlet_layouts();
    return layouts;
}

std::optional<GreenletModule> find_greenlet_module(pid_t pid, const std::vector<Mapping>& maps, int python_major,
                                                   int python_minor) {
    static const std::regex so_re(R"(/greenlet/_greenlet[^/]*\.so$)");
    for (const auto& m : maps) {
        if (!std::regex_search(without_deleted_suffix(m.path), so_re)) continue;  // deleted by an upgrade too
        GreenletModule g;
        g.path = m.path;
        g.version = greenlet_version(pid, m.path);
        int gmajor = g.version.empty() ? 0 : std::atoi(g.version.c_str());
        for (const auto& l : known_greenlet_layouts())
            if (l.major == python_major && l.minor == python_minor && l.greenlet_major == gmajor) g.layout = &l;
        return g;
    }
    return std::nullopt;
}

}  // namespace pyat
