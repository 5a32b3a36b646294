// Recognising a CPython process from the outside: where its interpreter state is and which
// version (hence which memory layout) it runs. Needs no debug info: Debian's python3.11 is stripped.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "cpython/cpython_layout.h"
#include "process/proc_status.h"  // the /proc readers its users need with it

namespace pyat {

class ElfFile;

struct PythonProcess {
    pid_t pid = 0;
    std::string program;        // basename of the executable, e.g. "python3.11"
    std::string executable;     // full path of the executable
    std::string command_line;   // argv joined with spaces
    // The ELF file holding _PyRuntime (binary or libpython) exactly as /proc/PID/maps shows it,
    // " (deleted)" included when it was deleted or replaced on disk: open it with
    // TargetFile::mapped(pid, interpreter), which reaches the mapped file all the same.
    std::string interpreter;
    std::string version;        // "3.11.2"
    uint64_t runtime_address = 0;  // &_PyRuntime in the process
    const CpythonLayout* layout = nullptr;
};

// Inspects PID; throws pyat::Error with a user-facing message when there is no such process,
// it is not CPython (saying what was found), or its version is not supported (saying which are).
PythonProcess inspect_python_process(pid_t pid);

// Same, for discovery: nullopt when PID is not (yet) a CPython process; `why` says why.
// before_initialization: also a process that has just exec'd its interpreter, before it set up
// its thread list (for hooks that read the interpreter only later, as it runs).
std::optional<PythonProcess> try_inspect_python_process(pid_t pid, std::string* why = nullptr,
                                                        bool before_initialization = false);

// A CPython version: 3.10.13, 3.13.0rc1; micro -1 when only "3.10" is known.
struct CpythonVersion {
    int major = 0, minor = 0, micro = -1;
    std::string suffix;  // "rc1", "+"
    std::string text() const;
};

// The PY_VERSION string in the file's .rodata ("3.10.13"), for builds without Py_Version (before
// 3.11); nullopt if absent or ambiguous (two minor versions; two micro versions of one minor give
// micro -1).
std::optional<CpythonVersion> version_from_rodata(const ElfFile& elf);


}  // namespace pyat
