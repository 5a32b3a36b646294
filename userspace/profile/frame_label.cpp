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

std::string code_label(std::string_view name, std::string_view file, uint32_t line) {
    return fmt::format("{} ({}:{})", name, short_path(file), line);
}

std::string frame_label(const Function& f, uint32_t line) {
    return f.file.empty() ? f.name : code_label(f.name, f.file, line);
}

std::string frame_label(const Function& f) { return frame_label(f, f.first_line); }

std::string process_label(const ProcessProfile& process) {
    return fmt::format("{} [{}]", process.program.empty() ? "process" : process.program, process.pid);
}

std::string group_label(const SampleGroup& group) {
    switch (group.kind) {
        case SampleGroup::Kind::thread:
            return group.name.empty() ? fmt::format("thread [{}]", group.id)
                                      : fmt::format("thread \"{}\" [{}]", group.name, group.id);
        case SampleGroup::Kind::greenlet:
            return group.name.empty() ? fmt::format("greenlet {}", group.id)
                                      : fmt::format("greenlet {} ({})", group.id, group.name);
        case SampleGroup::Kind::task: {
            std::string name = group.name.empty() ? fmt::format("task {}", group.id)
                                                  : fmt::format("task \"{}\"", group.name);
            return group.function.empty() ? name : fmt::format("{} ({})", name, group.function);
        }
    }
    return "";
}

}  // namespace pyat
