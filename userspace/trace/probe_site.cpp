#include "trace/probe_site.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "base/error.h"
#include "cpython/python_process.h"
#include "process/proc_maps.h"
#include "process/target_file.h"
#include "process/usdt_probes.h"

namespace pyat {

std::optional<ProbeSite> probes_in(const std::string& path, const ElfFile& elf) {
    std::vector<UsdtProbe> probes = usdt_probes(elf);
    ProbeSite site{path, has_usdt_probe(probes, "python", "function__entry"),
                   has_usdt_probe(probes, "python", "function__return"),
                   has_usdt_probe(probes, "python", "gc__start") && has_usdt_probe(probes, "python", "gc__done")};
    if (!site.entry && !site.ret) return std::nullopt;
    return site;
}

// The program to launch, as the user named it (nullopt: unreadable or not ELF).
std::optional<ElfFile> open_program(const std::string& path) {
    try {
        return ElfFile::open(path);
    } catch (const Error&) {
        return std::nullopt;
    }
}

// The ELF of a running process holding the python probes: one that fires both function probes
// other than the interpreter (a stand-in, or an extension firing them) first, else the executable
// or libpython. Each file is read as the process maps it (see TargetFile::mapped).
std::optional<ProbeSite> find_probes(pid_t pid, const std::string& interpreter) {
    std::vector<Mapping> maps;
    try {
        maps = read_maps(pid);
    } catch (const Error&) {
    }
    std::vector<std::string> candidates{executable_in_maps(pid)};  // the executable first
    for (const auto& m : maps)
        if (!m.path.empty() && m.path.front() == '/' &&
            std::find(candidates.begin(), candidates.end(), m.path) == candidates.end())
            candidates.push_back(m.path);
    std::optional<ProbeSite> found;
    for (const auto& path : candidates) {
        if (path.empty()) continue;
        std::optional<ProbeSite> site;
        try {
            site = probes_in(path, ElfFile::open(TargetFile::mapped(pid, maps, path)));
        } catch (const Error&) {
        }
        if (!site) continue;
        if (site->entry && site->ret && path != interpreter) return site;
        if (!found) found = site;
    }
    return found;
}

// argv[0] as exec would find it (PATH search for a bare name).
std::string resolve_program(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    const char* path = getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t end = dirs.find(':', start);
        std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
        std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0) return candidate;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return name;
}

// Is this ELF a CPython interpreter, and which minor version? (nullopt: not CPython)
std::optional<int> cpython_minor(const ElfFile& elf) {
    if (!elf.find_symbol("_PyRuntime")) return std::nullopt;
    if (auto v = version_from_rodata(elf)) return v->minor;
    return std::nullopt;
}

// The same for the executable a process runs, read through /proc/PID/exe.
std::optional<int> executable_cpython_minor(pid_t pid) {
    try {
        return cpython_minor(ElfFile::open(TargetFile::executable(pid)));
    } catch (const Error&) {
        return std::nullopt;
    }
}


}  // namespace pyat
