#include "cpython/python_process.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "process/elf_file.h"
#include "cpython/layout_check.h"
#include "base/error.h"
#include "process/process_memory.h"
#include "process/proc_maps.h"
#include "process/target_file.h"

namespace pyat {

namespace {

std::string basename_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_libpython(const std::string& path) {
    return basename_of(path).rfind("libpython3", 0) == 0;
}

using Version = CpythonVersion;

std::optional<Version> version_from_name(const std::string& path) {
    static const std::regex re(R"(python(\d)\.(\d+))");
    std::smatch m;
    std::string name = basename_of(path);
    if (!std::regex_search(name, m, re)) return std::nullopt;
    return Version{std::stoi(m[1]), std::stoi(m[2]), -1, ""};
}

}  // namespace

std::string CpythonVersion::text() const {
    if (micro < 0) return fmt::format("{}.{}", major, minor);
    return fmt::format("{}.{}.{}{}", major, minor, micro, suffix);
}

std::optional<CpythonVersion> version_from_rodata(const ElfFile& elf) {
    // PY_VERSION ("3.9.18") is in .rodata, often merged into the tail of a longer string such as
    // the install prefix "/usr/lib/python/3.9.18"; other version-like strings (Unicode data
    // "3.2.0") are older than any CPython that could hold them.
    auto rodata = elf.find_section(".rodata");
    if (!rodata || rodata->size == 0 || rodata->size > (64u << 20)) return std::nullopt;
    auto read = elf.file().read(rodata->offset, rodata->size);
    if (!read) return std::nullopt;
    const std::string& bytes = *read;
    static const std::regex re(R"((?:^|[^0-9A-Za-z.])3\.(\d{1,2})\.(\d{1,3})((?:(?:a|b|rc)\d+)?\+?)$)");
    std::optional<CpythonVersion> found;
    size_t start = 0;
    while (start < bytes.size()) {
        size_t end = bytes.find('\0', start);
        if (end == std::string::npos) end = bytes.size();
        size_t len = end - start;
        if (len >= 5 && len < 512) {
            std::string_view tail(bytes.data() + start + (len > 24 ? len - 24 : 0), len > 24 ? 24 : len);
            std::cmatch m;
            if (tail.back() >= '0' && std::regex_search(tail.begin(), tail.end(), m, re)) {
                CpythonVersion v{3, std::stoi(m[1].str()), std::stoi(m[2].str()), m[3].str()};
                if (v.minor >= 6) {
                    if (found && found->minor != v.minor) return std::nullopt;  // ambiguous
                    if (found && found->text() != v.text()) v.micro = -1;       // the minor version only
                    found = v;
                }
            }
        }
        start = end + 1;
    }
    return found;
}

namespace {

struct Interpreter {
    std::string path;
    uint64_t runtime_address = 0;
    Version version;
    bool version_known = false;
};

// Looks for _PyRuntime in one mapped ELF file of the process (`path` as in its maps); `why` says
// why the file could not be read.
std::optional<Interpreter> find_interpreter_in(pid_t pid, const std::string& path, const std::vector<Mapping>& maps,
                                               std::string& why) {
    std::optional<ElfFile> elf;
    try {
        elf.emplace(ElfFile::open(TargetFile::mapped(pid, maps, path)));
    } catch (const Error& e) {
        why = e.what();
        return std::nullopt;
    }
    // _PyRuntime is exported by libpython and by python binaries that embed it; 3.10+ also put
    // it in a section of its own, which survives even a strip of .dynsym.
    std::optional<uint64_t> runtime_vaddr;
    if (auto sym = elf->find_symbol("_PyRuntime"))
        runtime_vaddr = sym->value;
    else if (auto section = elf->find_section(".PyRuntime"))
        runtime_vaddr = section->addr;
    if (!runtime_vaddr) return std::nullopt;

    uint64_t bias = 0;
    try {
        bias = load_bias(*elf, maps, path);
    } catch (const Error&) {
        return std::nullopt;  // not mapped the way we can locate (e.g. replaced on disk)
    }
    Interpreter interp{path, bias + *runtime_vaddr, {}, false};
    if (auto py_version = elf->find_symbol("Py_Version")) {
        ProcessMemory memory(pid);
        if (auto hex = memory.read_value<uint32_t>(bias + py_version->value); hex && *hex) {
            interp.version = {int(*hex >> 24) & 0xff, int(*hex >> 16) & 0xff, int(*hex >> 8) & 0xff};
            interp.version_known = true;
        }
    }
    // Before 3.11: the PY_VERSION string ("3.10.13"), else the file name ("libpython3.10.so": no micro).
    if (!interp.version_known) {
        if (auto r = version_from_rodata(*elf)) {
            interp.version = *r;
            interp.version_known = true;
        } else if (auto v = version_from_name(path)) {
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

Inspection inspect(pid_t pid, bool before_initialization = false) {
    if (!process_exists(pid)) return {std::nullopt, fmt::format("no process with PID {}", pid)};
    std::vector<Mapping> maps;
    try {
        maps = read_maps(pid);
    } catch (const Error& e) {
        return {std::nullopt, e.what()};
    }
    // As the maps show it (" (deleted)" too, when it was removed or replaced since it started).
    const std::string exe_in_maps = executable_in_maps(pid);
    const std::string exe = without_deleted_suffix(exe_in_maps);
    std::string comm = read_comm(pid);
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
        if (m.path == exe_in_maps) add(m.path);
    for (const auto& m : maps)
        if (is_libpython(m.path)) add(m.path);

    std::optional<Interpreter> interp;
    std::string unreadable;  // the first file that could not be read, and why
    for (const auto& f : files) {
        std::string why;
        if ((interp = find_interpreter_in(pid, f, maps, why))) break;
        if (unreadable.empty()) unreadable = why;
    }
    if (!interp) {
        // Python 2 and 3.6 and older have no _PyRuntime; say what they are all the same. (A
        // supported version without it is a process that has not mapped libpython yet.)
        for (const auto& f : files)
            if (auto v = version_from_name(f); v && !find_cpython_layout(v->major, v->minor))
                return {std::nullopt,
                        fmt::format("PID {} runs CPython {} ({}), which pyasynctrace does not support "
                                    "(supported: {})",
                                    pid, v->text(), f, supported_cpython_versions())};
    }
    if (!interp && !unreadable.empty())
        return {std::nullopt, fmt::format("PID {} ({}) cannot be inspected: {}", pid, described, unreadable)};
    if (!interp)
        return {std::nullopt,
                fmt::format("PID {} is not a CPython process: found {}, which has no _PyRuntime "
                            "(symbol or .PyRuntime section), and no libpython is loaded",
                            pid, described)};
    if (!interp->version_known)
        return {std::nullopt, fmt::format("PID {} runs CPython ({}), but its version could not be "
                                          "told from Py_Version, its version string or the file name",
                                          pid, interp->path)};

    const CpythonLayout* layout = find_cpython_layout(interp->version.major, interp->version.minor);
    if (!layout)
        return {std::nullopt,
                fmt::format("PID {} runs CPython {} ({}), which pyasynctrace does not support yet "
                            "(supported: {})",
                            pid, interp->version.text(), interp->path, supported_cpython_versions())};

    LayoutCheck check = check_layout(ProcessMemory(pid), interp->runtime_address, *layout);
    if (check.verdict == LayoutVerdict::not_initialized && !before_initialization)
        return {std::nullopt, fmt::format("PID {} runs CPython {}, but {}; try again in a moment", pid,
                                          interp->version.text(), check.problem)};
    if (check.verdict == LayoutVerdict::mismatch)
        return {std::nullopt,
                fmt::format("PID {} runs CPython {} ({}), but its memory is not laid out as {} says ({}): "
                            "pyasynctrace does not support this build",
                            pid, interp->version.text(), interp->path, layout->source, check.problem)};

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

PythonProcess inspect_python_process(pid_t pid) {
    Inspection result = inspect(pid);
    if (!result.process) throw Error(result.why);
    return *result.process;
}

std::optional<PythonProcess> try_inspect_python_process(pid_t pid, std::string* why, bool before_initialization) {
    Inspection result = inspect(pid, before_initialization);
    if (why) *why = result.why;
    return result.process;
}

}  // namespace pyat
