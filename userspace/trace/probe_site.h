// Where a --mode trace target's python USDT probes are: which ELF holds function__entry,
// function__return and the gc probes, read as the process maps it (or, for a program not started
// yet, as the user named it), and which CPython version an ELF is.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "process/elf_file.h"

namespace pyat {

struct ProbeSite {
    std::string binary;  // as the process maps it (or the program to launch, as given)
    bool entry = false, ret = false, gc = false;
};

// The python probes in `elf` (read from `path`); nullopt: no function probe.
std::optional<ProbeSite> probes_in(const std::string& path, const ElfFile& elf);
// The program to launch, as the user named it (nullopt: unreadable or not ELF).
std::optional<ElfFile> open_program(const std::string& path);
// The ELF of a running process holding the python probes: one that fires both function probes
// other than the interpreter (a stand-in, or an extension firing them) first, else the executable
// or libpython.
std::optional<ProbeSite> find_probes(pid_t pid, const std::string& interpreter = "");
// argv[0] as exec would find it (PATH search for a bare name).
std::string resolve_program(const std::string& name);
// Is this ELF a CPython interpreter, and which minor version? (nullopt: not CPython)
std::optional<int> cpython_minor(const ElfFile& elf);
// The same for the executable a process runs, read through /proc/PID/exe.
std::optional<int> executable_cpython_minor(pid_t pid);

}  // namespace pyat
