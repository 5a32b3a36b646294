// asyncio's callback objects laid out in this test's own memory with a given CPython layout
// (types, code objects, functions, closures, bound methods, builtins, partials, futures, dicts),
// read back through process_vm_readv as from a target: the awaited-by reader and graph tests.
#pragma once

#include <unistd.h>

#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "cpython/cpython_layout.h"
#include "cpython/python_objects.h"
#include "runtimes/asyncio/awaited_by.h"
#include "unit/cpython/fake_code.h"

namespace pyat::fakes {

// Where the tests' C Futures keep their callbacks (FACTS 8.1: the same on 3.8-3.14).
inline constexpr FutureCallbackOffsets future_offsets{24, 40};

class FakeAsyncio {
public:
    static constexpr size_t prefix = 64;  // bytes before an object: room for a managed dict pointer

    FakeAsyncio(const CpythonLayout& layout, const AwaitedByDescription& d)
        : l(layout), d(d), objects(ProcessMemory(getpid()), layout) {
        function_type = type("function");
        method_type = type("method");
        builtin_type = type("builtin_function_or_method");
        partial_type = type("functools.partial");
        wrapper_type = type("TaskWakeupMethWrapper");
        future_type = type("_asyncio.Future");
        task_type = type("_asyncio.Task");
        plain_type = type("TaskGroup");
        // The C Future has a dict slot up to 3.12 (a Python subclass keeps its attributes there);
        // 3.13 dropped it for the managed dict.
        gathering_type = type("_GatheringFuture", /*dict_slot=*/layout.minor < 13);
        str_type = type("str");
    }

    const CpythonLayout& l;
    const AwaitedByDescription& d;
    PythonObjects objects;
    uint64_t function_type, method_type, builtin_type, partial_type, wrapper_type, future_type, task_type,
        plain_type, gathering_type, str_type;

    // A zeroed object of `type` (its address is `prefix` bytes into its blob).
    uint64_t object(uint64_t type_address) {
        Blob& b = blobs_.emplace_back();
        b.bytes.resize(1024);
        b.put<uint64_t>(prefix + l.object_type, type_address);
        return b.address() + prefix;
    }
    template <typename T>
    void put(uint64_t address, size_t offset, T value) {
        std::memcpy(reinterpret_cast<void*>(address + offset), &value, sizeof(T));
    }
    uint64_t cstring(const std::string& s) {
        Blob& b = blobs_.emplace_back();
        b.put_bytes(0, s.c_str(), s.size() + 1);
        return b.address();
    }
    uint64_t str(const std::string& s) {
        Blob& b = blobs_.emplace_back(ascii_string(l, s));
        b.put<uint64_t>(l.object_type, str_type);
        return b.address();
    }
    // A type named `name`; `dict_slot`: its instances keep a dict at a fixed offset (tp_dictoffset
    // > 0, as a Python subclass of the C Future does), else the version's own instance dict.
    uint64_t type(const std::string& name, bool dict_slot = false) {
        Blob& b = blobs_.emplace_back();
        b.bytes.resize(1024);
        b.put<uint64_t>(l.type_name, cstring(name));
        if (dict_slot || l.instance_dict == InstanceDict::dictoffset) b.put<int64_t>(l.type_dictoffset, 48);
        return b.address();
    }
    uint64_t tuple(const std::vector<uint64_t>& items) {
        uint64_t t = object(0);
        put<int64_t>(t, l.list_size, int64_t(items.size()));
        for (size_t i = 0; i < items.size(); i++) put<uint64_t>(t, l.tuple_items + 8 * i, items[i]);
        return t;
    }
    uint64_t list(const std::vector<uint64_t>& items) {
        uint64_t list = object(0);
        Blob& storage = blobs_.emplace_back();
        for (size_t i = 0; i < items.size(); i++) storage.put<uint64_t>(8 * i, items[i]);
        put<int64_t>(list, l.list_size, int64_t(items.size()));
        put<uint64_t>(list, l.list_items, storage.address());
        return list;
    }
    uint64_t cell(uint64_t value) {
        uint64_t c = object(0);
        put<uint64_t>(c, l.cell_ref, value);
        return c;
    }
    // A code object named `name` in `file` with these free variables (after one plain local).
    uint64_t code(const std::string& name, const std::string& file, const std::vector<std::string>& freevars = {}) {
        uint64_t c = object(0);
        put<uint64_t>(c, l.bpf.code_name, str(name));
        put<uint64_t>(c, l.bpf.code_filename, str(file));
        std::vector<uint64_t> free;
        for (const auto& v : freevars) free.push_back(str(v));
        if (l.code_localspluskinds) {  // 3.11+: locals, then the free variables, kinds alongside
            std::vector<uint64_t> names{str("fut")};
            names.insert(names.end(), free.begin(), free.end());
            Blob& kinds = blobs_.emplace_back();
            kinds.put<uint8_t>(l.bytes_data, 0x20);  // CO_FAST_LOCAL
            for (size_t i = 0; i < free.size(); i++) kinds.put<uint8_t>(l.bytes_data + 1 + i, 0x80);
            kinds.put<int64_t>(l.bytes_size, int64_t(names.size()));
            put<uint64_t>(c, l.code_localsplusnames, tuple(names));
            put<uint64_t>(c, l.code_localspluskinds, kinds.address());
        } else {
            put<uint64_t>(c, l.code_localsplusnames, tuple({str("fut")}));
            put<uint64_t>(c, l.code_freevars, tuple(free));
        }
        return c;
    }
    uint64_t function(uint64_t code_address, const std::vector<uint64_t>& cell_values = {}) {
        uint64_t f = object(function_type);
        put<uint64_t>(f, l.func_code, code_address);
        std::vector<uint64_t> cells;
        for (uint64_t v : cell_values) cells.push_back(cell(v));
        if (!cells.empty()) put<uint64_t>(f, l.func_closure, tuple(cells));
        return f;
    }
    uint64_t method(uint64_t function_address, uint64_t self) {
        uint64_t m = object(method_type);
        put<uint64_t>(m, l.method_func, function_address);
        put<uint64_t>(m, l.method_self, self);
        return m;
    }
    uint64_t builtin(const std::string& ml_name, uint64_t self) {
        Blob& def = blobs_.emplace_back();
        def.put<uint64_t>(l.methoddef_name, cstring(ml_name));
        uint64_t b = object(builtin_type);
        put<uint64_t>(b, l.cfunction_method, def.address());
        put<uint64_t>(b, l.cfunction_self, self);
        return b;
    }
    uint64_t partial(uint64_t function_address, const std::vector<uint64_t>& args) {
        uint64_t p = object(partial_type);
        put<uint64_t>(p, l.partial_func, function_address);
        put<uint64_t>(p, l.partial_args, tuple(args));
        return p;
    }
    // The wakeup the C Task adds to a task `parent` awaits, as this version makes it.
    uint64_t wakeup(uint64_t parent) {
        if (*d.wakeup_builtin) return builtin(d.wakeup_builtin, parent);
        uint64_t w = object(wrapper_type);
        put<uint64_t>(w, d.wakeup_wrapper_task, parent);
        return w;
    }
    // A C future (or task) with these callbacks: the first in fut_callback0, the rest in the list.
    uint64_t future(const std::vector<uint64_t>& callbacks = {}, uint64_t type_address = 0) {
        uint64_t f = object(type_address ? type_address : future_type);
        set_callbacks(f, callbacks);
        return f;
    }
    void set_callbacks(uint64_t f, const std::vector<uint64_t>& callbacks) {
        put<uint64_t>(f, future_offsets.callback0, callbacks.empty() ? 0 : callbacks[0]);
        std::vector<uint64_t> pairs;
        for (size_t i = 1; i < callbacks.size(); i++) pairs.push_back(tuple({callbacks[i], 0}));
        put<uint64_t>(f, future_offsets.callbacks, pairs.empty() ? 0 : list(pairs));
    }
    uint64_t task(const std::vector<uint64_t>& callbacks = {}) { return future(callbacks, task_type); }
    // A dict holding one str key.
    uint64_t dict(const std::string& key, uint64_t value) {
        Blob& keys = blobs_.emplace_back();
        keys.put<int64_t>(l.dictkeys_nentries, 1);
        uint64_t entries;
        if (l.dict_layout == DictLayout::sized) {
            keys.put<int64_t>(l.dictkeys_size, 8);
            entries = l.dictkeys_indices + 8;  // eight 1-byte indices
        } else {
            keys.put<uint8_t>(l.dictkeys_size, 3);
            keys.put<uint8_t>(l.dictkeys_index_bytes, 3);
            keys.put<uint8_t>(l.dictkeys_kind, 0);  // general: {hash, key, value}
            entries = l.dictkeys_indices + 8;
        }
        keys.put<uint64_t>(entries + 8, str(key));
        keys.put<uint64_t>(entries + 16, value);
        uint64_t dict = object(0);
        put<uint64_t>(dict, l.dict_keys, keys.address());
        return dict;
    }
    // Sets attribute `name` of an object made by object(): in its dict slot (tp_dictoffset 48) or in
    // the version's managed dict pointer (3.11+: obj - 24; 3.12's untagged word is the dict too).
    void set_attribute(uint64_t obj, uint64_t type_address, const std::string& name, uint64_t value) {
        uint64_t dict = this->dict(name, value);
        auto dictoffset = *reinterpret_cast<const int64_t*>(type_address + l.type_dictoffset);
        if (dictoffset > 0) put<uint64_t>(obj, size_t(dictoffset), dict);
        else std::memcpy(reinterpret_cast<void*>(obj - 24), &dict, 8);
    }

private:
    std::deque<Blob> blobs_;
};

}  // namespace pyat::fakes
