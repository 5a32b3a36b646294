#include "runtimes/asyncio/task_step_sites.h"

#include <elf.h>
#include <fmt/format.h>

#include <map>
#include <optional>

#include "base/error.h"
#include "cpython/builtin_methods.h"
#include "cpython/cpython_layout.h"
#include "process/target_file.h"
#include "runtimes/asyncio/asyncio_extension.h"

namespace pyat {

namespace {
constexpr size_t probe_window = 16;  // bytes read to find an instruction the kernel emulates

bool executable(const ElfFile& elf, uint64_t vaddr) {
    for (const auto& seg : elf.load_segments())
        if ((seg.flags & PF_X) && vaddr >= seg.vaddr && vaddr - seg.vaddr < seg.filesz) return true;
    return false;
}

// Where a uprobe on the function at `vaddr` goes: its place in the file, moved past leading
// instructions the kernel would single-step (see emulated_probe_offset).
std::optional<uint64_t> probe_offset(const ElfFile& elf, uint64_t vaddr) {
    if (!executable(elf, vaddr)) return std::nullopt;
    auto offset = elf.file_offset(vaddr);
    if (!offset) return std::nullopt;
    auto bytes = elf.read_bytes(vaddr, probe_window);
    if (!bytes) return *offset;
    return *offset + emulated_probe_offset(std::vector<uint8_t>(bytes->begin(), bytes->end()));
}

// A static table that names itself `name` at `name_at` and holds a function at `function_at` (a
// type object: tp_name, tp_call; a PyMethodDef: ml_name, ml_meth): that function, if exactly one
// such table exists.
std::optional<uint64_t> function_of_table(const ElfFile& elf, const std::map<uint64_t, uint64_t>& pointers,
                                          std::string_view name, uint16_t name_at, uint16_t function_at,
                                          std::string& why) {
    auto text = elf.find_string(".rodata", name);
    if (!text) {
        why = fmt::format("{} has no string \"{}\"", elf.path(), name);
        return std::nullopt;
    }
    std::optional<uint64_t> found;
    for (const auto& [at, target] : pointers) {
        if (target != *text || at < name_at) continue;
        auto function = pointers.find(at - name_at + function_at);
        if (function == pointers.end() || !executable(elf, function->second)) continue;
        if (found && *found != function->second) {
            why = fmt::format("{} has more than one table named \"{}\"", elf.path(), name);
            return std::nullopt;
        }
        found = function->second;
    }
    if (!found) why = fmt::format("{} has no table named \"{}\" with a function where expected", elf.path(), name);
    return found;
}
}  // namespace

std::vector<TaskStepSite> task_step_sites(const ElfFile& module, const CpythonLayout& cpython,
                                          const AsyncioLayout& layout, std::string& why) {
    std::vector<TaskStepSite> sites;
    if (*layout.step_function && (layout.step_task_argument == 1 || layout.step_task_argument == 2))
        if (auto symbol = module.find_symbol(layout.step_function))
            if (auto offset = probe_offset(module, symbol->value)) {
                sites.push_back({layout.step_task_argument == 1 ? "on_task_step_task_first" : "on_task_step_task_second",
                                 *offset, layout.step_function});
                return sites;
            }
    if (!*layout.step_wrapper_type || !layout.type_call) {
        why = fmt::format("{} has no symbol {} (stripped), and CPython {}'s _asyncio has no static table to find "
                          "its task steps by",
                          module.path(), layout.step_function, layout.version());
        return sites;
    }
    const auto pointers = module.relative_pointers();
    auto add = [&](std::optional<uint64_t> function, const char* program, std::string what) {
        if (auto offset = function ? probe_offset(module, *function) : std::nullopt)
            sites.push_back({program, *offset, std::move(what)});
    };
    std::string missing;
    add(function_of_table(module, pointers, layout.step_wrapper_type, cpython.type_name, layout.type_call, missing),
        "on_task_step_wrapped", fmt::format("{}'s tp_call", layout.step_wrapper_type));
    if (*layout.wakeup_wrapper_type)
        add(function_of_table(module, pointers, layout.wakeup_wrapper_type, cpython.type_name, layout.type_call,
                              missing),
            "on_task_step_wrapped", fmt::format("{}'s tp_call", layout.wakeup_wrapper_type));
    else if (*layout.wakeup_method)
        add(function_of_table(module, pointers, layout.wakeup_method, cpython.methoddef_name,
                              cpython.methoddef_function, missing),
            "on_task_step_task_first", layout.wakeup_method);
    // Both or none: a step hooked one way only would end some waits and not others.
    if (sites.size() != 2) {
        why = fmt::format("{} has no symbol {} (stripped), and its step wrapper and wakeup were not both found: {}",
                          module.path(), layout.step_function, missing.empty() ? "unreadable tables" : missing);
        sites.clear();
    }
    return sites;
}

TaskStepSites find_task_step_sites(pid_t pid, const std::vector<Mapping>& maps, const std::string& interpreter,
                                   const CpythonLayout& cpython, const AsyncioLayout& layout) {
    TaskStepSites out;
    const AsyncioExtension extension = asyncio_extension(maps, interpreter);
    const bool built_in = !extension.separate;  // _asyncio linked into the interpreter, or not loaded
    out.path = extension.path;
    try {
        const ElfFile module = ElfFile::open(TargetFile::mapped(pid, maps, out.path));
        out.sites = task_step_sites(module, cpython, layout, out.why);
        if (out.sites.empty() && built_in)
            out.why = fmt::format("PID {} has not loaded the _asyncio extension (only pure-Python tasks)", pid);
    } catch (const Error& e) {
        out.why = e.what();
    }
    return out;
}

}  // namespace pyat
