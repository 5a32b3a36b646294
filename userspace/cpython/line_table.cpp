#include "cpython/line_table.h"

namespace pyat {

namespace {

// Lines are accumulated modulo 2^64 so that no table, however crafted, causes signed overflow;
// real tables never come near the limits.
int as_line(uint64_t accumulated) { return int(int64_t(accumulated)); }

// 3.8/3.9 co_lnotab: (addr_incr u8, line_incr s8) pairs; a pair's line increment applies from
// the address reached after its address increment.
LineLookup lnotab_line(std::span<const uint8_t> t, int first_line, uint32_t offset) {
    uint64_t line = uint64_t(int64_t(first_line));
    uint64_t addr = 0;
    for (size_t i = 0; i + 1 < t.size(); i += 2) {
        addr += t[i];
        if (addr > offset) return {as_line(line), true};
        line += uint64_t(int64_t(int8_t(t[i + 1])));
    }
    return {as_line(line), false};  // the last line runs to the end of the bytecode
}

// 3.10 co_linetable (PEP 626): (sdelta u8, ldelta s8) pairs, each a range [start, end) of bytes;
// ldelta -128 means the range has no line.
LineLookup linetable310_line(std::span<const uint8_t> t, int first_line, uint32_t offset) {
    uint64_t line = uint64_t(int64_t(first_line));
    uint64_t end = 0;
    int last = first_line;  // the line of the last range before this one that has one
    for (size_t i = 0; i + 1 < t.size(); i += 2) {
        uint64_t start = end;
        end += t[i];
        int8_t delta = int8_t(t[i + 1]);
        bool has_line = delta != -128;
        if (has_line) line += uint64_t(int64_t(delta));
        if (start <= offset && offset < end) return {has_line ? as_line(line) : last, true};
        if (has_line && end > start) last = as_line(line);
    }
    return {first_line, false};
}

// Reads a PEP 657 location table (CPython's Objects/locations.md) without ever leaving it.
class LocationReader {
public:
    explicit LocationReader(std::span<const uint8_t> t) : t_(t) {}
    bool done() const { return pos_ >= t_.size(); }
    bool at_entry_start() const { return pos_ < t_.size() && (t_[pos_] & 0x80); }
    uint8_t byte() { return pos_ < t_.size() ? t_[pos_++] : 0; }
    void skip(size_t n) { pos_ = n < t_.size() - pos_ ? pos_ + n : t_.size(); }
    // 6-bit chunks, least significant first, 0x40 = more follow.
    uint32_t varint() {
        uint32_t value = 0;
        for (unsigned shift = 0; pos_ < t_.size(); shift += 6) {
            uint8_t b = t_[pos_++];
            if (shift < 32) value |= uint32_t(b & 0x3f) << shift;
            if (!(b & 0x40)) break;
        }
        return value;
    }
    int64_t svarint() {
        uint32_t u = varint();
        return (u & 1) ? -int64_t(u >> 1) : int64_t(u >> 1);
    }

private:
    std::span<const uint8_t> t_;
    size_t pos_ = 0;
};

// 3.11+: entries of 1..8 code units (2 bytes each), each starting with a byte whose bit 7 is set.
LineLookup location_table_line(std::span<const uint8_t> t, int first_line, uint32_t offset) {
    const uint64_t unit = offset / 2;
    LocationReader r(t);
    uint64_t line = uint64_t(int64_t(first_line));
    uint64_t addr = 0;
    int last = first_line;  // the line of the last entry before this one that has one
    while (!r.done()) {
        if (!r.at_entry_start()) return {first_line, true};  // corrupt: stop rather than guess
        uint8_t head = r.byte();
        int code = (head >> 3) & 15;
        uint64_t length = (head & 7) + 1;
        bool has_line = true;
        switch (code) {
            case 15:  // no location
                has_line = false;
                break;
            case 14:  // long form: line delta, end line delta, start column + 1, end column + 1
                line += uint64_t(r.svarint());
                r.varint();
                r.varint();
                r.varint();
                break;
            case 13:  // no column: line delta
                line += uint64_t(r.svarint());
                break;
            case 10:
            case 11:
            case 12:  // one-line forms: line delta 0..2, start and end column bytes
                line += uint64_t(code - 10);
                r.skip(2);
                break;
            default:  // short forms 0..9: same line, one column byte
                r.skip(1);
                break;
        }
        if (unit >= addr && unit < addr + length) return {has_line ? as_line(line) : last, true};
        if (has_line) last = as_line(line);
        addr += length;
    }
    return {first_line, false};
}

}  // namespace

LineLookup find_line(LineTableFormat format, std::span<const uint8_t> table, int first_line, uint32_t byte_offset) {
    switch (format) {
        case LineTableFormat::lnotab: return lnotab_line(table, first_line, byte_offset);
        case LineTableFormat::linetable310: return linetable310_line(table, first_line, byte_offset);
        case LineTableFormat::location_table: return location_table_line(table, first_line, byte_offset);
    }
    return {first_line, false};
}

}  // namespace pyat
