// Text read from a target (CPython str objects, file names, command lines) made into valid UTF-8
// that every output can hold on one line: the one step all decoding and all writers share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pyat {

// The code points of a CPython str as UTF-8 (PEP 393 storage, as read from the target): `count`
// code units of `kind` bytes each, little-endian, at `units`: kind 1 is Latin-1 (and compact ASCII),
// 2 UCS-2, 4 UCS-4. U+DC80..U+DCFF, which Python's surrogateescape uses for the bytes of a file
// name that were not UTF-8 (os.fsdecode), come out as the 4 characters "\xNN" of the byte; any other
// lone surrogate, a code point past U+10FFFF and an unknown kind's units as U+FFFD. Control
// characters are kept (printable_text neutralises them where they are written).
std::string utf8_from_code_units(const uint8_t* units, size_t count, unsigned kind);

// Any bytes as valid UTF-8 that cannot break a line-based or markup format's framing: valid UTF-8 is
// kept as is, except that every byte of an invalid sequence, every C0 control (NUL, TAB, LF, CR,
// ESC, ...) and DEL come out as "\xNN", and the C1 controls (U+0080..U+009F), the line and
// paragraph separators (U+2028, U+2029) and the two code points XML forbids (U+FFFE, U+FFFF) as
// "\uNNNN". A backslash is kept: "\xe9" in the text
// reads the same as a byte E9 escaped. With max_bytes, the result is cut at a character
// boundary to at most that many bytes, "..." included.
std::string printable_text(std::string_view bytes, size_t max_bytes = std::string_view::npos);

// How long a name may be on the terminal (the hot-function table, the blocking report): a
// longer one is cut with printable_text's max_bytes. Files hold names whole.
constexpr size_t terminal_name_bytes = 200;

// printable_text(bytes) == bytes: valid UTF-8 holding nothing printable_text would change.
bool is_printable_text(std::string_view bytes);

}  // namespace pyat
