#include "profile/frame_label.h"

#include <fmt/format.h>


namespace pyat {

namespace {
// "site-packages/", "dist-packages/" or "lib/pythonN.M/" at the start of `rest`: its length, or 0.
size_t library_root_length(std::string_view rest) {
    for (std::string_view root : {"site-packages/", "dist-packages/"})
        if (rest.starts_with(root)) return root.size();
    constexpr std::string_view lib = "lib/python";
    if (!rest.starts_with(lib)) return 0;
    size_t i = lib.size();
    auto digits = [&] {
        size_t start = i;
        while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') i++;
        return i > start;
    };
    if (!digits() || i >= rest.size() || rest[i++] != '.' || !digits() || i >= rest.size() || rest[i] != '/') return 0;
    return i + 1;
}
}  // namespace

// The path after the last library root in it. (A plain scan: std::regex recurses once per
// character and overflowed the stack on a 100 KB file name.)
std::string short_path(std::string_view file) {
    for (size_t slash = file.rfind('/'); slash != std::string_view::npos;
         slash = slash ? file.rfind('/', slash - 1) : std::string_view::npos) {
        if (size_t n = library_root_length(file.substr(slash + 1))) {
            size_t end = slash + 1 + n;
            return std::string(end < file.size() ? file.substr(end) : file);
        }
    }
    return std::string(file);
}

std::string frame_label(const Function& f) {
    if (f.file.empty()) return f.name;
    return fmt::format("{} ({}:{})", f.name, short_path(f.file), f.first_line);
}

}  // namespace pyat
