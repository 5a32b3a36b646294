// Finding the C function behind a builtin method (e.g. contextvars.Context.run) and the
// PyMethodDef of another (generator.send) in a traced process: through the exported type objects'
// method tables, so stripped interpreters work too (the functions themselves are static).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cpython/python_objects.h"
#include "cpython/python_process.h"

namespace pyat {

struct BuiltinMethod {
    uint64_t definition = 0;  // the PyMethodDef in the process
    uint64_t function = 0;    // its ml_meth, an address in the process
    std::string file;         // the ELF file mapping `function` (as in /proc/PID/maps)
    uint64_t file_offset = 0; // where `function` sits in that file
    uint64_t probe_offset = 0; // where a uprobe on it is cheapest (see emulated_probe_offset)
};

// Where to put a uprobe on a function starting with `code` so that the kernel emulates the probed
// instruction (push, jmp, nop: ~5 us a hit here) instead of single-stepping it out of line (~19 us):
// the offset of the first such instruction, skipping leading instructions known to leave the
// argument registers rdi and rsi alone (register clears, lea and mov into other registers, as in
// gen_send's tail-call thunk `xor ecx,ecx; xor edx,edx; jmp gen_send_ex`); 0 if none is found.
size_t emulated_probe_offset(const std::vector<uint8_t>& code);

// Where the interpreter's exported `symbol` (e.g. "PyMethod_Type") sits in the process; nullopt with
// `why` set when the interpreter does not export it.
std::optional<uint64_t> exported_address(const PythonProcess& process, std::string_view symbol, std::string& why);

// Where the C function at `function` (an address in the process) sits, for a uprobe: the mapped
// ELF file, its offset there, and the cheapest place to probe it; nullopt with `why` set when no
// mapped file holds it.
std::optional<BuiltinMethod> locate_c_function(pid_t pid, const ProcessMemory& memory, uint64_t function,
                                               std::string& why);

// The destructor of the type exported as `type_symbol` (its tp_dealloc), e.g. "PyCode_Type":
// called with the object about to be freed in rdi. nullopt with `why` set when it cannot be found.
std::optional<BuiltinMethod> find_type_dealloc(const PythonProcess& process, const PythonObjects& objects,
                                               std::string_view type_symbol, std::string& why);

// Method `method` of the type exported as `type_symbol` (e.g. "PyContext_Type", "run"); nullopt
// with `why` set when it cannot be found.
std::optional<BuiltinMethod> find_builtin_method(const PythonProcess& process, const PythonObjects& objects,
                                                 std::string_view type_symbol, std::string_view method,
                                                 std::string& why);

}  // namespace pyat
