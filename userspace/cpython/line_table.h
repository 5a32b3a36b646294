// Decoding CPython's line-number tables: bytecode offset -> source line.
#pragma once

#include <cstdint>
#include <span>

namespace pyat {

enum class LineTableFormat {
    lnotab,          // 3.8, 3.9: co_lnotab (addr_incr u8, line_incr s8) pairs
    linetable310,    // 3.10: co_linetable (PEP 626) (sdelta u8, ldelta s8) pairs
    location_table,  // 3.11+: co_linetable (PEP 657) location entries
};

struct LineLookup {
    int line;
    bool covered;  // the table reached the instruction (a table cut short may end before it)
};

// The line of the instruction at `byte_offset`, in bytes from the start of the bytecode:
// f_lasti on 3.8/3.9, 2 * f_lasti on 3.10, (prev_instr or instr_ptr) - (code + co_code_adaptive
// offset) on 3.11+. `first_line` is co_firstlineno.
// An instruction with no line of its own (3.10's and 3.11+'s "no location" entries, such as the
// jump back at the end of a loop, where a thread waiting for the GIL often sits) gets the line of
// the last instruction before it that has one, as py-spy and Austin do; first_line when none
// does, when the table is empty or the offset is past its end. Never reads outside `table`,
// whatever its contents.
LineLookup find_line(LineTableFormat format, std::span<const uint8_t> table, int first_line, uint32_t byte_offset);

inline int line_for_offset(LineTableFormat format, std::span<const uint8_t> table, int first_line,
                           uint32_t byte_offset) {
    return find_line(format, table, first_line, byte_offset).line;
}

}  // namespace pyat
