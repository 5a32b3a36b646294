#include "python_process.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "elf_file.h"
#include "error.h"
#include "process_memory.h"
#include "proc_maps.h"

namespace pyat {

namespace {

std::string basename_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string read_small_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

bool is_libpython(const std::string& path) {
    return basename_of(path).rfind("libpython3", 0) == 0;
}

// Major, minor and micro from a PY_VERSION_HEX value (Py_Version, exported since 3.11).
struct Version {
    int major = 0, minor = 0, micro = -1;
    std::string text() const {
        return micro >= 0 ? fmt::format("{}.{}.{}", major, minor, micro)
                          : fmt::format("{}.{}", major, minor);
    }
};

std::optional<Version> version_from_name(const std::string& path) {
    static const std::regex re(R"(python(\d)\.(\d+))");
    std::smatch m;
    std::string name = basename_of(path);
    if (!std::regex_search(name, m, re)) return std::nullopt;
    return Version{std::stoi(m[1]), std::stoi(m[2]), -1};
}

struct Interpreter {
    std::string path;
    uint64_t runtime_address = 0;
    Version version;
    bool version_known = false;
};

// Looks for _PyRuntime in one mapped ELF file of the process.
std::optional<Interpreter> find_interpreter_in(pid_t pid, const std::string& path,
                                               const std::vector<Mapping>& maps) {
    std::optional<ElfFile> elf;
    for (const auto& candidate : {fmt::format("/proc/{}/root{}", pid, path), path}) {
        try {
            elf.emplace(ElfFile::open(candidate));
            break;
        } catch (const Error&) {
        }
    }
    if (!elf) return std::nullopt;
    auto runtime = elf->find_symbol("_PyRuntime");
    if (!runtime) return std::nullopt;

    uint64_t bias = 0;
    try {
        bias = load_bias(*elf, maps, path);
    } catch (const Error&) {
        return std::nullopt;  // not mapped the way we can locate (e.g. replaced on disk)
    }
    Interpreter interp{path, bias + runtime->value, {}, false};
    if (auto py_version = elf->find_symbol("Py_Version")) {
        ProcessMemory memory(pid);
        if (auto hex = memory.read_value<uint32_t>(bias + py_version->value); hex && *hex) {
            interp.version = {int(*hex >> 24) & 0xff, int(*hex >> 16) & 0xff, int(*hex >> 8) & 0xff};
            interp.version_known = true;
        }
    }
    if (!interp.version_known) {
        if (auto v = version_from_name(path)) {
            interp.version = *v;
            interp.version_known = true;
        }
    }
    return interp;
}

struct Inspection {
    std::optional<PythonProcess> process;
    std::string why;  // when process is empty
};

Inspection inspect(pid_t pid) {
    if (!process_exists(pid)) return {std::nullopt, fmt::format("no process with PID {}", pid)};
    std::vector<Mapping> maps;
    try {
        maps = read_maps(pid);
    } catch (const Error& e) {
        return {std::nullopt, e.what()};
    }
    std::string exe = read_executable(pid);
    std::string comm = read_small_file(fmt::format("/proc/{}/comm", pid));
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    std::string described = exe.empty() ? fmt::format("'{}'", comm) : fmt::format("{} ({})", exe, comm);
    if (maps.empty())
        return {std::nullopt,
                fmt::format("PID {} is not a CPython process: {} has no user memory (a kernel thread?)",
                            pid, described)};

    // The executable first (python built statically), then any libpython it loaded.
    std::vector<std::string> files;
    auto add = [&](const std::string& p) {
        if (!p.empty() && p.front() == '/' && std::find(files.begin(), files.end(), p) == files.end())
            files.push_back(p);
    };
    for (const auto& m : maps)
        if (m.path == exe) add(m.path);
    for (const auto& m : maps)
        if (is_libpython(m.path)) add(m.path);

    std::optional<Interpreter> interp;
    for (const auto& f : files)
        if ((interp = find_interpreter_in(pid, f, maps))) break;
    if (!interp)
        return {std::nullopt,
                fmt::format("PID {} is not a CPython process: found {}, which does not export "
                            "_PyRuntime, and no libpython is loaded",
                            pid, described)};
    if (!interp->version_known)
        return {std::nullopt, fmt::format("PID {} runs CPython ({}), but its version could not be "
                                          "told from Py_Version or the file name",
                                          pid, interp->path)};

    const CpythonLayout* layout = find_cpython_layout(interp->version.major, interp->version.minor);
    if (!layout)
        return {std::nullopt,
                fmt::format("PID {} runs CPython {} ({}), which pyasynctrace does not support yet "
                            "(supported: {})",
                            pid, interp->version.text(), interp->path, supported_cpython_versions())};

    PythonProcess p;
    p.pid = pid;
    p.executable = exe;
    p.program = exe.empty() ? comm : basename_of(exe);
    p.command_line = read_command_line(pid);
    p.interpreter = interp->path;
    p.version = interp->version.text();
    p.runtime_address = interp->runtime_address;
    p.layout = layout;
    return {p, ""};
}

}  // namespace

bool process_exists(pid_t pid) {
    if (pid <= 0) return false;
    if (kill(pid, 0) != 0 && errno == ESRCH) return false;
    std::string stat = read_small_file(fmt::format("/proc/{}/stat", pid));
    auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
    char state = stat[paren + 2];
    return state != 'Z' && state != 'X';
}

std::string read_command_line(pid_t pid) {
    std::string raw = read_small_file(fmt::format("/proc/{}/cmdline", pid));
    while (!raw.empty() && raw.back() == '\0') raw.pop_back();
    for (auto& c : raw)
        if (c == '\0') c = ' ';
    return raw;
}

std::string read_executable(pid_t pid) {
    std::vector<char> buf(4096);
    ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), buf.data(), buf.size() - 1);
    if (n <= 0) return "";
    std::string path(buf.data(), size_t(n));
    const std::string deleted = " (deleted)";
    if (path.size() > deleted.size() && path.ends_with(deleted)) path.resize(path.size() - deleted.size());
    return path;
}

PythonProcess inspect_python_process(pid_t pid) {
    Inspection result = inspect(pid);
    if (!result.process) throw Error(result.why);
    return *result.process;
}

std::optional<PythonProcess> try_inspect_python_process(pid_t pid, std::string* why) {
    Inspection result = inspect(pid);
    if (why) *why = result.why;
    return result.process;
}

}  // namespace pyat
