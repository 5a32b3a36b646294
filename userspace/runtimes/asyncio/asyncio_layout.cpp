#include "runtimes/asyncio/asyncio_layout.h"

#include <fmt/format.h>

#include <vector>

#include "runtimes/asyncio/asyncio_types.h"

namespace pyat {

namespace {
#include "asyncio_layouts.inc"
}  // namespace

std::string AsyncioLayout::version() const { return fmt::format("{}.{}", major, minor); }

const AsyncioLayout* find_asyncio_layout(int major, int minor) {
    static const std::vector<AsyncioLayout> layouts = generated_asyncio_layouts();
    for (const auto& l : layouts)
        if (l.major == major && l.minor == minor) return &l;
    return nullptr;
}

std::string check_asyncio_layout(const PythonObjects& objects, const CpythonLayout& cpython,
                                 const AsyncioLayout& asyncio, uint64_t task, uint64_t py_task_class) {
    AsyncioTypes types(objects.memory(), cpython, asyncio, py_task_class);
    uint64_t type = objects.read_pointer(task + cpython.object_type);
    ObjectKind kind = types.of_type(type);
    uint64_t coro = 0;
    if (kind == ObjectKind::c_task)
        coro = objects.read_pointer(task + asyncio.task_coro);
    else if (kind == ObjectKind::py_task)
        coro = objects.instance_attribute(task, asyncio.py_task_coro);
    else
        return fmt::format("asyncio {} layout ({}): the registry's entry 0x{:x} is a '{}', not a task", asyncio.version(),
                           asyncio.source, task, types.type_name(type));
    ObjectKind coro_kind = types.of_object(coro);
    if (coro_kind != ObjectKind::coroutine && coro_kind != ObjectKind::coroutine_wrapper)
        return fmt::format("asyncio {} layout ({}): task 0x{:x}'s coroutine (0x{:x}) is a '{}', not a coroutine",
                           asyncio.version(), asyncio.source, task, coro,
                           types.type_name(objects.read_pointer(coro + cpython.object_type)));
    return "";
}

}  // namespace pyat
