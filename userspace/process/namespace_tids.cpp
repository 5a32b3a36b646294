#include "process/namespace_tids.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>
#include <string>

#include "base/unique_fd.h"

namespace pyat {

namespace {

// A /proc status file (a few KB); "" if unreadable (the thread or process is gone).
std::string read_status(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return "";
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, size_t(n));
        if (text.size() > (1u << 20)) break;
    }
    return text;
}

}  // namespace

std::vector<uint32_t> parse_nspid(std::string_view status) {
    constexpr std::string_view key = "NSpid:";
    size_t at = status.starts_with(key) ? 0 : status.find(fmt::format("\n{}", key));
    if (at == std::string_view::npos) return {};
    if (status[at] == '\n') at++;
    std::string_view line = status.substr(at + key.size());
    line = line.substr(0, line.find('\n'));
    std::vector<uint32_t> ids;
    while (!line.empty()) {
        size_t start = line.find_first_not_of(" \t");
        if (start == std::string_view::npos) break;
        line.remove_prefix(start);
        uint32_t id = 0;
        auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), id);
        if (ec != std::errc() || id == 0 || (end != line.data() + line.size() && *end != ' ' && *end != '\t'))
            return {};
        ids.push_back(id);
        line.remove_prefix(size_t(end - line.data()));
    }
    return ids;
}

NamespaceTids::NamespaceTids(pid_t pid) : pid_(pid) {
    nested_ = parse_nspid(read_status(fmt::format("/proc/{}/status", pid))).size() > 1;
    refresh();
}

void NamespaceTids::refresh() {
    if (!nested_) return;
    std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(fmt::format("/proc/{}/task", pid_).c_str()), closedir);
    if (!dir) return;  // gone: keep what was known
    std::unordered_map<uint32_t, uint32_t> host_of;
    while (dirent* entry = readdir(dir.get())) {
        uint32_t host = 0;
        std::string_view name(entry->d_name);
        auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), host);
        if (ec != std::errc() || end != name.data() + name.size()) continue;
        auto ids = parse_nspid(read_status(fmt::format("/proc/{}/task/{}/status", pid_, host)));
        if (ids.size() > 1 && ids.front() == host) host_of[ids.back()] = host;
    }
    host_of_ = std::move(host_of);
}

uint32_t NamespaceTids::host_tid(uint32_t namespaced) const {
    if (!nested_) return namespaced;
    auto it = host_of_.find(namespaced);
    return it == host_of_.end() ? 0 : it->second;
}

}  // namespace pyat
