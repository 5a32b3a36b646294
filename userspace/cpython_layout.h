// Per-version knowledge of CPython's memory layout, loaded from probes/cpython/*.conf.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "line_table.h"
#include "pysample.h"

namespace pyat {

struct CpythonLayout {
    int major = 0;
    int minor = 0;
    const char* source = "";  // the probes/ file it came from

    py_layout bpf{};  // what the kernel frame walker needs

    // Userspace symbolization of code objects.
    uint16_t code_firstlineno = 0;
    uint16_t code_qualname = 0;  // 0: no co_qualname (before 3.11)
    uint16_t code_linetable = 0;
    LineTableFormat line_table = LineTableFormat::location_table;
    uint16_t bytes_size = 0;
    uint16_t bytes_data = 0;
    uint16_t unicode_length = 0;
    uint16_t unicode_state = 0;
    uint16_t unicode_ascii_data = 0;    // characters of a compact ASCII string
    uint16_t unicode_compact_data = 0;  // characters of a compact non-ASCII string

    std::string version() const;
};

// Every layout under probes/cpython, oldest first.
const std::vector<CpythonLayout>& known_cpython_layouts();

// The layout for major.minor, if that version is supported.
const CpythonLayout* find_cpython_layout(int major, int minor);

// "3.11" or "3.11, 3.12": for error messages.
std::string supported_cpython_versions();

}  // namespace pyat
