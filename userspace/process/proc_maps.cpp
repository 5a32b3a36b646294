#include "process/proc_maps.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "base/error.h"
#include "base/unique_fd.h"

namespace pyat {

namespace {

// Splits off the next space-separated field of `line`.
std::string_view next_field(std::string_view& line) {
    size_t start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        line = {};
        return {};
    }
    line.remove_prefix(start);
    size_t end = line.find(' ');
    std::string_view field = line.substr(0, end);
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
    return field;
}

bool parse_number(std::string_view s, uint64_t& out, int base) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && p == s.data() + s.size();
}

// "08:01" or "fd:00": two hex numbers separated by a colon, major and minor.
bool parse_device(std::string_view s, uint32_t& major, uint32_t& minor) {
    size_t colon = s.find(':');
    uint64_t ma = 0, mi = 0;
    if (colon == std::string_view::npos || !parse_number(s.substr(0, colon), ma, 16) ||
        !parse_number(s.substr(colon + 1), mi, 16) || ma > UINT32_MAX || mi > UINT32_MAX)
        return false;
    major = uint32_t(ma);
    minor = uint32_t(mi);
    return true;
}

}  // namespace

bool Mapping::deleted() const {
    constexpr std::string_view suffix = " (deleted)";
    return path.size() > suffix.size() && std::string_view(path).ends_with(suffix);
}

std::vector<Mapping> parse_maps(std::string_view text) {
    std::vector<Mapping> maps;
    while (!text.empty()) {
        size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);

        // start-end perms offset dev inode [path]
        Mapping m;
        std::string_view range = next_field(line), perms = next_field(line), offset = next_field(line);
        std::string_view device = next_field(line), inode = next_field(line);
        size_t dash = range.find('-');
        if (dash == std::string_view::npos || !parse_number(range.substr(0, dash), m.start, 16) ||
            !parse_number(range.substr(dash + 1), m.end, 16) || m.end < m.start || perms.size() != 4 ||
            !parse_number(offset, m.offset, 16) || !parse_device(device, m.dev_major, m.dev_minor) || !parse_number(inode, m.inode, 10))
            continue;
        m.perms = std::string(perms);
        // The path is the rest of the line after the padding: it may itself contain spaces.
        size_t path_start = line.find_first_not_of(' ');
        if (path_start != std::string_view::npos) m.path = std::string(line.substr(path_start));
        maps.push_back(std::move(m));
    }
    return maps;
}

std::vector<Mapping> read_maps(int pid) {
    if (pid <= 0) throw Error(fmt::format("no process with PID {}", pid));
    UniqueFd fd(::open(fmt::format("/proc/{}/maps", pid).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT || errno == ESRCH) throw Error(fmt::format("no process with PID {}", pid));
        throw Error(fmt::format("cannot read the memory map of PID {}: {}", pid, strerror(errno)));
    }
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof(buf));
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            // The process exited while we read (ESRCH), or access was refused on read (EACCES).
            if (errno == ESRCH) throw Error(fmt::format("no process with PID {}", pid));
            throw Error(fmt::format("cannot read the memory map of PID {}: {}", pid, strerror(errno)));
        }
        text.append(buf, size_t(n));
    }
    return parse_maps(text);
}

}  // namespace pyat
