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

// The line of the instruction at `byte_offset`, in bytes from the start of the bytecode:
// f_lasti on 3.8/3.9, 2 * f_lasti on 3.10, (prev_instr or instr_ptr) - (code + co_code_adaptive
// offset) on 3.11+. `first_line` is co_firstlineno.
// Returns first_line when the table is empty, the offset is outside it, or the instruction has
// no line. Never reads outside `table`, whatever its contents.
int line_for_offset(LineTableFormat format, std::span<const uint8_t> table, int first_line, uint32_t byte_offset);

}  // namespace pyat
