#include "frame_label.h"

#include <fmt/format.h>

#include <regex>

namespace pyat {

std::string short_path(std::string_view file) {
    static const std::regex library_root(R"(.*/(site-packages|dist-packages|lib/python\d+\.\d+)/)");
    std::string path(file);
    std::smatch m;
    if (std::regex_search(path, m, library_root) && m.position(0) == 0 && size_t(m.length(0)) < path.size())
        return path.substr(size_t(m.length(0)));
    return path;
}

std::string frame_label(const Function& f) {
    if (f.file.empty()) return f.name;
    return fmt::format("{} ({}:{})", f.name, short_path(f.file), f.first_line);
}

}  // namespace pyat
