#include "greenlet_layout.h"

#include <fmt/format.h>

#include <fstream>
#include <regex>
#include <sstream>

namespace pyat {

namespace {
#include "greenlet_layouts.inc"

// "2.0.2" from greenlet/__init__.py beside the extension (`__version__ = '2.0.2'`).
std::string greenlet_version(pid_t pid, const std::string& so_path) {
    auto slash = so_path.rfind('/');
    if (slash == std::string::npos) return "";
    std::string init = so_path.substr(0, slash) + "/__init__.py";
    for (const auto& candidate : {fmt::format("/proc/{}/root{}", pid, init), init}) {
        std::ifstream in(candidate);
        if (!in) continue;
        std::stringstream text;
        text << in.rdbuf();
        static const std::regex re(R"(__version__\s*=\s*['"]([0-9][^'"]*)['"])");
        std::smatch m;
        std::string s = text.str();
        if (std::regex_search(s, m, re)) return m[1];
        return "";
    }
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
        if (!std::regex_search(m.path, so_re)) continue;
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
