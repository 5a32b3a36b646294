// Turning the (code object address, instruction offset) pairs the kernel records into
// function names, files and lines, by reading the target's code objects. Resolve as samples
// arrive: once the target exits, its code objects are gone.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "cpython_layout.h"
#include "process_memory.h"
#include "pysample.h"
#include "python_objects.h"

namespace pyat {

struct ResolvedFrame {
    const std::string* name;      // qualified name; points into the resolver's cache
    const std::string* file;
    uint32_t first_line;
    uint32_t line;
};

class CodeResolver {
public:
    CodeResolver(ProcessMemory memory, const CpythonLayout& layout);

    ResolvedFrame resolve(const py_frame& frame);

    size_t cached_code_objects() const { return code_.size(); }
    // Forget everything (e.g. bound memory on very long runs); names already emitted stay valid
    // in the profile, which copies them.
    void clear();

private:
    struct CodeInfo {
        std::string name;
        std::string file;
        uint32_t first_line = 0;
        std::vector<uint8_t> line_table;
        std::unordered_map<int32_t, uint32_t> lines;  // instruction offset -> line
    };
    struct Key {
        uint64_t code;
        uint32_t tag;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const noexcept { return k.code * 31 + k.tag; }
    };

    CodeInfo load(const Key& key) const;

    ProcessMemory memory_;
    const CpythonLayout& layout_;
    PythonObjects objects_;
    std::unordered_map<Key, CodeInfo, KeyHash> code_;
};

// The fingerprint the kernel stores with each frame (see code_tag in bpf/python_frames.bpf.h).
uint32_t code_tag(uint64_t name_ptr, uint64_t filename_ptr);

}  // namespace pyat
