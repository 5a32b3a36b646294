#include "cpython/builtin_methods.h"

#include <fmt/format.h>

#include "process/elf_file.h"
#include "base/error.h"
#include "process/proc_maps.h"
#include "process/target_file.h"

namespace pyat {

size_t emulated_probe_offset(const std::vector<uint8_t>& code) {
    // Registers by number (with REX.B/REX.R): 6 = rsi, 7 = rdi hold the first two arguments.
    auto clobbers_argument = [](unsigned reg) { return reg == 6 || reg == 7; };
    size_t i = 0;
    for (int steps = 0; steps < 6 && i < code.size(); steps++) {
        uint8_t b = code[i];
        uint8_t rex = (b >= 0x40 && b <= 0x4f) ? b : 0;
        size_t op = i + (rex ? 1 : 0);
        if (op >= code.size()) break;
        uint8_t o = code[op];
        // Emulated by the kernel's uprobes: push reg, jmp rel32/rel8, nop.
        if ((o >= 0x50 && o <= 0x57) || o == 0xe9 || o == 0xeb || o == 0x90) return i;
        if (op + 1 >= code.size()) break;
        uint8_t modrm = code[op + 1];
        unsigned mod = modrm >> 6, reg = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0), rm = (modrm & 7) | ((rex & 1) ? 8 : 0);
        if ((o == 0x31 || o == 0x33) && mod == 3 && reg == rm && !clobbers_argument(rm)) {  // xor r, r
            i = op + 2;
        } else if (o == 0x89 && mod == 3 && !clobbers_argument(rm)) {  // mov r/m <- r, register form
            i = op + 2;
        } else if (o == 0x8b && mod == 3 && !clobbers_argument(reg)) {  // mov r <- r/m, register form
            i = op + 2;
        } else if (o == 0x8d && mod == 1 && (modrm & 7) != 4 && !clobbers_argument(reg)) {  // lea r, [base+disp8]
            i = op + 3;
        } else {
            break;
        }
    }
    return 0;
}

std::optional<uint64_t> exported_address(const PythonProcess& process, std::string_view symbol, std::string& why) {
    std::optional<ElfFile> elf;
    try {
        elf.emplace(ElfFile::open(TargetFile::mapped(process.pid, process.interpreter)));
    } catch (const Error& e) {
        why = e.what();
        return std::nullopt;
    }
    auto runtime = elf->find_symbol("_PyRuntime");
    auto found = elf->find_symbol(symbol);
    if (!runtime || !found) {
        why = fmt::format("{} does not export {}", process.interpreter, symbol);
        return std::nullopt;
    }
    return process.runtime_address - runtime->value + found->value;  // the file's load bias, from _PyRuntime
}

std::optional<BuiltinMethod> locate_c_function(pid_t pid, const ProcessMemory& memory, uint64_t function,
                                               std::string& why) {
    if (!function) {
        why = "no function";
        return std::nullopt;
    }
    for (const auto& m : read_maps(pid))
        if (function >= m.start && function < m.end && !m.path.empty() && m.path[0] == '/') {
            BuiltinMethod found;
            found.function = function;
            found.file = m.path;
            found.file_offset = function - m.start + m.offset;
            auto code = memory.read_bytes(function, 32);
            found.probe_offset = found.file_offset + (code ? emulated_probe_offset(*code) : 0);
            return found;
        }
    why = fmt::format("the function at {:#x} is not in a mapped file", function);
    return std::nullopt;
}

std::optional<BuiltinMethod> find_type_dealloc(const PythonProcess& process, const PythonObjects& objects,
                                               std::string_view type_symbol, std::string& why) {
    auto type = exported_address(process, type_symbol, why);
    if (!type) return std::nullopt;
    auto found = locate_c_function(process.pid, objects.memory(), objects.read_pointer(*type + process.layout->type_dealloc), why);
    if (!found) why = fmt::format("{}'s tp_dealloc: {}", type_symbol, why);
    return found;
}

std::optional<BuiltinMethod> find_builtin_method(const PythonProcess& process, const PythonObjects& objects,
                                                 std::string_view type_symbol, std::string_view method,
                                                 std::string& why) {
    const CpythonLayout& layout = *process.layout;
    auto type = exported_address(process, type_symbol, why);
    if (!type) return std::nullopt;
    uint64_t table = objects.read_pointer(*type + layout.type_methods);
    for (unsigned i = 0; table && i < 64; i++) {
        uint64_t def = table + uint64_t(i) * layout.methoddef_size;
        uint64_t name = objects.read_pointer(def);  // ml_name: the first member
        if (!name) break;
        auto text = objects.memory().read_bytes(name, method.size() + 1);
        if (!text || std::string_view(reinterpret_cast<const char*>(text->data()), method.size()) != method ||
            (*text)[method.size()] != 0)
            continue;
        auto found = locate_c_function(process.pid, objects.memory(),
                                       objects.read_pointer(def + layout.methoddef_function), why);
        if (!found) {
            why = fmt::format("{}.{}: {}", type_symbol, method, why);
            return std::nullopt;
        }
        found->definition = def;
        return found;
    }
    why = fmt::format("{} has no method {}", type_symbol, method);
    return std::nullopt;
}

}  // namespace pyat
