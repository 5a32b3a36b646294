// Code objects laid out in this test's own memory with the 3.11 layout, and the code_name_event the
// kernel would send for each: names, files and lines are read through process_vm_readv exactly as
// from a target (the CodeResolver and StackAggregator tests).
#pragma once

#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "abi/code_names.h"
#include "abi/events.h"
#include "abi/maps.h"
#include "cpython/cpython_layout.h"
#include "cpython/python_process.h"

namespace pyat::fakes {

// A Python object image: a byte buffer we fill at the layout's offsets.
struct Blob {
    std::vector<uint8_t> bytes = std::vector<uint8_t>(512, 0);
    uint64_t address() const { return reinterpret_cast<uint64_t>(bytes.data()); }
    template <typename T>
    void put(size_t offset, T value) { std::memcpy(bytes.data() + offset, &value, sizeof(T)); }
    void put_bytes(size_t offset, const void* data, size_t n) { std::memcpy(bytes.data() + offset, data, n); }
};

inline const CpythonLayout& layout311() {
    const CpythonLayout* l = find_cpython_layout(3, 11);
    EXPECT_NE(l, nullptr);
    return *l;
}

// This test process, described as a traced CPython of layout `l` (its memory holds the fakes).
inline PythonProcess self_process(const CpythonLayout& l) {
    PythonProcess p;
    p.pid = getpid();
    p.program = "python3.11";
    p.layout = &l;
    p.version = "3.11.2";
    return p;
}

inline Blob ascii_string(const CpythonLayout& l, const std::string& s) {
    Blob b;
    b.put<int64_t>(l.unicode_length, int64_t(s.size()));
    b.put<uint32_t>(l.unicode_state, (1u << 2) | (1u << 5) | (1u << 6));  // kind 1, compact, ascii
    b.put_bytes(l.unicode_ascii_data, s.data(), s.size());
    return b;
}

// "def f(x):\n    a = x + 1\n    b = a * 2\n    return b\n" compiled by python3.11.
inline const std::vector<uint8_t> f_linetable = {0x80, 0x00, 0xd8, 0x08, 0x09, 0x88, 0x41, 0x89, 0x05, 0x80, 0x41,
                                          0xd8, 0x08, 0x09, 0x88, 0x41, 0x89, 0x05, 0x80, 0x41, 0xd8, 0x0b,
                                          0x0c, 0x80, 0x48};

inline uint32_t next_fake_generation = 100;

// A code object image, and the code_name_event the kernel would send for it.
struct FakeCode {
    Blob code, name, qualname, file, table;
    uint32_t generation = next_fake_generation++;
    FakeCode(const CpythonLayout& l)
        : name(ascii_string(l, "f")), qualname(ascii_string(l, "Demo.f")), file(ascii_string(l, "demo.py")) {
        table.put<int64_t>(l.bytes_size, int64_t(f_linetable.size()));
        table.put_bytes(l.bytes_data, f_linetable.data(), f_linetable.size());
        code.put<uint64_t>(l.object_type, 0xc0de);  // stands for PyCode_Type
        code.put<uint64_t>(l.bpf.code_name, name.address());
        code.put<uint64_t>(l.bpf.code_filename, file.address());
        code.put<uint64_t>(l.code_qualname, qualname.address());
        code.put<uint64_t>(l.code_linetable, table.address());
        code.put<int32_t>(l.code_firstlineno, 1);
    }
    py_frame frame(int32_t instr) const { return {code.address(), instr, generation}; }
    // As named by the kernel: ASCII text, the table's first `table_bytes` bytes.
    code_name_event event(const std::string& qualified = "Demo.f", size_t table_bytes = SIZE_MAX) const {
        code_name_event e{};
        e.kind = PYAT_EVENT_CODE_NAME;
        e.pid = uint32_t(getpid());
        e.code = code.address();
        e.generation = generation;
        e.first_line = 1;
        e.name_kind = e.file_kind = 1;
        e.name_length = e.name_bytes = uint16_t(qualified.size());
        std::memcpy(e.name, qualified.data(), qualified.size());
        e.file_length = e.file_bytes = 7;
        std::memcpy(e.file, "demo.py", 7);
        e.table_size = uint32_t(f_linetable.size());
        e.table_bytes = uint32_t(std::min(table_bytes, f_linetable.size()));
        std::memcpy(e.table, f_linetable.data(), e.table_bytes);
        return e;
    }
};

}  // namespace pyat::fakes
