#include "proc_maps.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "error.h"

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

bool parse_hex(std::string_view s, uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
    return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::vector<Mapping> parse_maps(std::string_view text) {
    std::vector<Mapping> maps;
    while (!text.empty()) {
        size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);

        Mapping m;
        std::string_view range = next_field(line), perms = next_field(line), offset = next_field(line);
        std::string_view device = next_field(line), inode = next_field(line);
        size_t dash = range.find('-');
        if (dash == std::string_view::npos || !parse_hex(range.substr(0, dash), m.start) ||
            !parse_hex(range.substr(dash + 1), m.end) || !parse_hex(offset, m.offset) || device.empty())
            continue;
        auto [p, ec] = std::from_chars(inode.data(), inode.data() + inode.size(), m.inode);
        if (ec != std::errc()) continue;
        m.perms = std::string(perms);
        size_t path_start = line.find_first_not_of(' ');
        if (path_start != std::string_view::npos) m.path = std::string(line.substr(path_start));
        maps.push_back(std::move(m));
    }
    return maps;
}

std::vector<Mapping> read_maps(int pid) {
    std::ifstream in(fmt::format("/proc/{}/maps", pid));
    if (!in) {
        if (errno == ENOENT) throw Error(fmt::format("no process with PID {}", pid));
        throw Error(fmt::format("cannot read the memory map of PID {}: {}", pid, strerror(errno)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_maps(text.str());
}

}  // namespace pyat
