// Reading Python objects (str, int, dict, instance attributes) out of another process's memory,
// for every supported CPython layout. Read-only and defensive: a torn or freed object gives
// nullopt, never a crash or an endless walk.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cpython/cpython_layout.h"
#include "process/process_memory.h"

namespace pyat {

class PythonObjects {
public:
    PythonObjects(ProcessMemory memory, const CpythonLayout& layout) : memory_(memory), layout_(layout) {}

    const ProcessMemory& memory() const { return memory_; }

    // A str object as UTF-8; "" when unreadable or not a compact string.
    std::string read_unicode(uint64_t str) const;
    // An int object that fits in 64 bits.
    std::optional<int64_t> read_long(uint64_t obj) const;

    // (key, value) object addresses of a dict, in insertion order.
    std::vector<std::pair<uint64_t, uint64_t>> dict_items(uint64_t dict) const;
    // The value stored under a str key, or 0.
    uint64_t dict_get(uint64_t dict, std::string_view key) const;
    // An attribute stored in the object's instance dict (or inline values), or 0.
    uint64_t instance_attribute(uint64_t obj, std::string_view name) const;

    // Where instances of `type` keep attribute `name` in their values array (for the kernel,
    // which cannot search dicts); nullopt when the class has no such shared key (yet: keys appear
    // as instances set them) or the layout keeps no values array (before 3.11).
    std::optional<attr_ref> attribute_slot(uint64_t type, std::string_view name) const;

    // A pointer-sized field, 0 when unreadable.
    uint64_t read_pointer(uint64_t address) const;
    // The items of a tuple (empty when unreadable or implausibly long).
    std::vector<uint64_t> tuple_items(uint64_t tuple) const;

    // A global of a module object, or 0.
    uint64_t module_attribute(uint64_t module, std::string_view name) const;
    // sys.modules of the main interpreter (the dict), or 0.
    uint64_t sys_modules(uint64_t runtime_address) const;

private:
    struct Keys {
        uint64_t entries = 0;  // address of the first entry
        uint64_t count = 0;    // dk_nentries
        unsigned entry_size = 0;
        unsigned key_at = 0, value_at = 0;  // offsets inside an entry
    };
    std::optional<Keys> read_keys(uint64_t keys) const;
    // Index of the entry whose key is the str `key`, in a keys object.
    std::optional<uint64_t> find_key(const Keys& keys, std::string_view key) const;
    uint64_t split_value(uint64_t values, uint64_t index) const;
    uint64_t lookup_in_values(uint64_t type, uint64_t values, std::string_view name) const;
    bool unicode_equals(uint64_t str, std::string_view text) const;

    ProcessMemory memory_;
    const CpythonLayout& layout_;
};

}  // namespace pyat
