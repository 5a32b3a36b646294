// What kind of asyncio object an address holds, by its type (tp_name, and tp_base for subclasses),
// read out of the target and cached per type object.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "cpython/cpython_layout.h"
#include "process/process_memory.h"
#include "runtimes/asyncio/asyncio_layout.h"

namespace pyat {

enum class ObjectKind : uint8_t {
    unreadable,         // no readable type
    c_task,             // _asyncio.Task or a Python subclass of it
    py_task,            // asyncio.tasks._PyTask or a subclass (fields are instance attributes)
    gathering,          // gather()'s _GatheringFuture
    future,             // _asyncio.Future, the pure-Python Future, or a subclass
    future_iter,        // _asyncio.FutureIter (what `await future` holds)
    coroutine,          // coroutine, generator: have a frame of their own
    coroutine_wrapper,  // cw_coroutine is the coroutine
    asend,              // async_generator_asend: ags_gen is the async generator
    str,
    integer,
    other,
};

class AsyncioTypes {
public:
    // `py_task_class`: the address of asyncio.tasks._PyTask in the target (0: unknown, no object
    // is taken for a pure-Python task).
    AsyncioTypes(ProcessMemory memory, const CpythonLayout& cpython, const AsyncioLayout& asyncio,
                 uint64_t py_task_class = 0);

    ObjectKind of_object(uint64_t object);
    ObjectKind of_type(uint64_t type);
    // The tp_name of a type ("" when unreadable), at most 256 bytes.
    std::string type_name(uint64_t type) const;
    void set_py_task_class(uint64_t type);

private:
    ObjectKind classify(uint64_t type) const;

    ProcessMemory memory_;
    const CpythonLayout& cpython_;
    const AsyncioLayout& asyncio_;
    uint64_t py_task_class_;
    std::unordered_map<uint64_t, ObjectKind> cache_;
};

}  // namespace pyat
