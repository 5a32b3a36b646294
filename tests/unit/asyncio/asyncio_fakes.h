// asyncio objects laid out in this test's own memory at a version's offsets (types by tp_name,
// tasks, coroutines with their frames, sets, weakrefs), read back through process_vm_readv exactly
// as from a target.
#pragma once

#include <unistd.h>

#include <deque>
#include <string>

#include <gtest/gtest.h>

#include "cpython/cpython_layout.h"
#include "runtimes/asyncio/asyncio_layout.h"
#include "unit/cpython/fake_code.h"

namespace pyat::fakes {

struct AsyncioFakes {
    const CpythonLayout& py;
    const AsyncioLayout& aio;
    std::deque<Blob> blobs;  // stable addresses
    std::deque<std::string> strings;

    AsyncioFakes(int minor) : py(*find_cpython_layout(3, minor)), aio(*find_asyncio_layout(3, minor)) {}

    Blob& blob(size_t size = 512) {
        blobs.emplace_back();
        blobs.back().bytes.assign(size, 0);
        return blobs.back();
    }
    // A type object named `name`, deriving from `base` (0: none).
    uint64_t type(const std::string& name, uint64_t base = 0) {
        strings.push_back(name);
        Blob& t = blob();
        t.put<uint64_t>(py.type_name, reinterpret_cast<uint64_t>(strings.back().c_str()));
        t.put<uint64_t>(aio.type_base, base);
        return t.address();
    }
    Blob& object(uint64_t type, size_t size = 512) {
        Blob& o = blob(size);
        o.put<uint64_t>(py.object_type, type);
        return o;
    }
    uint64_t str(const std::string& text) {
        uint64_t str_type = type(aio.str_type);
        blobs.push_back(ascii_string(py, text));
        blobs.back().put<uint64_t>(py.object_type, str_type);
        return blobs.back().address();
    }
    // A small non-negative int, in this version's PyLong layout.
    uint64_t small_int(uint32_t value) {
        Blob& o = object(type(aio.int_type));
        if (py.long_tagged)
            o.put<uint64_t>(py.long_size, value ? (uint64_t(1) << 3) : 1);
        else
            o.put<int64_t>(py.long_size, value ? 1 : 0);
        o.put<uint32_t>(py.long_digits, value);
        return o.address();
    }
};

}  // namespace pyat::fakes
