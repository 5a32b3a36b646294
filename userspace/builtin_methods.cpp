#include "builtin_methods.h"

#include <fmt/format.h>

#include "elf_file.h"
#include "error.h"
#include "proc_maps.h"

namespace pyat {

std::optional<BuiltinMethod> find_builtin_method(const PythonProcess& process, const PythonObjects& objects,
                                                 std::string_view type_symbol, std::string_view method,
                                                 std::string& why) {
    const CpythonLayout& layout = *process.layout;
    std::optional<ElfFile> elf;
    for (const auto& candidate : {fmt::format("/proc/{}/root{}", process.pid, process.interpreter), process.interpreter}) {
        try {
            elf.emplace(ElfFile::open(candidate));
            break;
        } catch (const Error&) {
        }
    }
    if (!elf) {
        why = fmt::format("cannot open {}", process.interpreter);
        return std::nullopt;
    }
    auto runtime = elf->find_symbol("_PyRuntime");
    auto type = elf->find_symbol(type_symbol);
    if (!runtime || !type) {
        why = fmt::format("{} does not export {}", process.interpreter, type_symbol);
        return std::nullopt;
    }
    uint64_t bias = process.runtime_address - runtime->value;
    uint64_t table = objects.read_pointer(bias + type->value + layout.type_methods);
    for (unsigned i = 0; table && i < 64; i++) {
        uint64_t def = table + uint64_t(i) * layout.methoddef_size;
        uint64_t name = objects.read_pointer(def);  // ml_name: the first member
        if (!name) break;
        auto text = objects.memory().read_bytes(name, method.size() + 1);
        if (!text || std::string_view(reinterpret_cast<const char*>(text->data()), method.size()) != method ||
            (*text)[method.size()] != 0)
            continue;
        BuiltinMethod found;
        found.definition = def;
        found.function = objects.read_pointer(def + layout.methoddef_function);
        for (const auto& m : read_maps(process.pid))
            if (found.function >= m.start && found.function < m.end && !m.path.empty() && m.path[0] == '/') {
                found.file = m.path;
                found.file_offset = found.function - m.start + m.offset;
                return found;
            }
        why = fmt::format("{}.{} at {:#x} is not in a mapped file", type_symbol, method, found.function);
        return std::nullopt;
    }
    why = fmt::format("{} has no method {}", type_symbol, method);
    return std::nullopt;
}

}  // namespace pyat
