// Turning the (code object, generation, instruction offset) triples the kernel records into
// function names, files and lines. The kernel names every code object the first time a frame
// shows it (struct code_name_event, bpf/lib/code_names.bpf.h), while the object is certainly alive,
// and tags each frame with that naming's generation: names come from those events, never from
// memory that may have been freed and reused since. Userspace reads a code object itself only
// to fill in what an event could not carry (a lost event, a long line table), and then only
// keeps what it read if the kernel still names that object by the same generation afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cpython/cpython_layout.h"
#include "process/process_memory.h"
#include "abi/code_names.h"
#include "abi/cpython.h"
#include "cpython/python_objects.h"

namespace pyat {

struct ResolvedFrame {
    const std::string* name;      // qualified name; points into the resolver's cache
    const std::string* file;
    uint32_t first_line;
    uint32_t line;
};

class CodeResolver {
public:
    // Whether the kernel's table still names `code` by `generation`: the object has not been
    // freed since it was named. (The kernel forgets a code object as it is freed.)
    using StillNamed = std::function<bool(uint64_t code, uint32_t generation)>;

    // `code_type`: the address of PyCode_Type in the process (0: unknown, reads are not checked
    // for their type); `still_named`: see above (empty: userspace never reads a code object the
    // kernel named but whose event it missed).
    CodeResolver(ProcessMemory memory, const CpythonLayout& layout, uint64_t code_type = 0,
                 StillNamed still_named = {});

    // A naming from the kernel; `size` is the record's size.
    void learn(const code_name_event& event, size_t size);

    // Read the code object at `code` now (e.g. a thread's stack read from userspace) and name it
    // under a new userspace generation (PYAT_USERSPACE_GENERATION set), returned; 0 when it is not
    // a readable code object.
    uint32_t learn_from_memory(uint64_t code);

    ResolvedFrame resolve(const py_frame& frame);

    // Whether the code object at `code` is interpreter plumbing rather than code anyone wrote:
    // CPython 3.13+'s _Py_InitCleanup shim (see is_interpreter_shim in bpf/lib/record_frame.bpf.h).
    bool interpreter_shim(uint64_t code) const;

    size_t cached_code_objects() const { return code_.size(); }
    // Frames named "[code object ...]" (not resolvable) so far.
    uint64_t unresolved() const { return unresolved_; }

private:
    struct CodeInfo {
        std::string name;
        std::string file;
        uint32_t first_line = 0;
        std::vector<uint8_t> line_table;
        uint32_t table_size = 0;  // the whole table's size (line_table may hold only its start)
        bool named = true;        // false: a placeholder, "[code object ...]"
        std::unordered_map<int32_t, uint32_t> lines;  // instruction offset -> line
    };
    struct Key {
        uint64_t code;
        uint32_t generation;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const noexcept { return k.code * 31 + k.generation; }
    };

    // Read from memory: nullopt unless it is (by its type) a code object with readable strings.
    std::optional<CodeInfo> read(uint64_t code) const;
    CodeInfo placeholder(const Key& key) const;
    CodeInfo& store(const Key& key, CodeInfo info);
    uint32_t line_of(CodeInfo& info, const Key& key, int32_t instr);

    ProcessMemory memory_;
    const CpythonLayout& layout_;
    PythonObjects objects_;
    uint64_t code_type_;
    StillNamed still_named_;
    uint32_t next_userspace_generation_ = 1;
    uint64_t unresolved_ = 0;
    std::unordered_map<Key, CodeInfo, KeyHash> code_;
};

// The fingerprint of a code object's name and file pointers (see code_tag in bpf/lib/code_names.bpf.h).
uint32_t code_tag(uint64_t name_ptr, uint64_t filename_ptr);

}  // namespace pyat
