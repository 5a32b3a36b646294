#include "line_table.h"

namespace pyat {

namespace {

int lnotab_line(std::span<const uint8_t> t, int first_line, uint32_t offset) {
    int line = first_line;
    uint32_t addr = 0;
    for (size_t i = 0; i + 1 < t.size(); i += 2) {
        addr += t[i];
        if (addr > offset) break;
        line += int8_t(t[i + 1]);
    }
    return line;
}

int linetable310_line(std::span<const uint8_t> t, int first_line, uint32_t offset) {
    int line = first_line;
    uint32_t end = 0;
    for (size_t i = 0; i + 1 < t.size(); i += 2) {
        uint32_t start = end;
        end += t[i];
        int8_t delta = int8_t(t[i + 1]);
        bool has_line = delta != -128;
        if (has_line) line += delta;
        if (start <= offset && offset < end) return has_line ? line : first_line;
    }
    return first_line;
}

// PEP 657 location table (Objects/locations.md in CPython).
class LocationReader {
public:
    explicit LocationReader(std::span<const uint8_t> t) : t_(t) {}
    bool done() const { return pos_ >= t_.size(); }
    uint8_t byte() { return pos_ < t_.size() ? t_[pos_++] : 0; }
    bool at_entry_start() const { return pos_ < t_.size() && (t_[pos_] & 0x80); }
    uint32_t varint() {
        uint32_t value = 0;
        for (int shift = 0; pos_ < t_.size() && shift < 32; shift += 6) {
            uint8_t b = t_[pos_++];
            value |= uint32_t(b & 0x3f) << shift;
            if (!(b & 0x40)) break;
        }
        return value;
    }
    int svarint() {
        uint32_t u = varint();
        return (u & 1) ? -int(u >> 1) : int(u >> 1);
    }
    void skip(size_t n) { pos_ += n; }

private:
    std::span<const uint8_t> t_;
    size_t pos_ = 0;
};

int location_table_line(std::span<const uint8_t> t, int first_line, uint32_t offset) {
    const uint32_t unit = offset / 2;  // code units of 2 bytes
    LocationReader r(t);
    int line = first_line;
    uint32_t addr = 0;
    while (!r.done()) {
        if (!r.at_entry_start()) return first_line;  // corrupt: stop rather than guess
        uint8_t first = r.byte();
        int code = (first >> 3) & 15;
        uint32_t length = (first & 7) + 1;
        bool has_line = true;
        switch (code) {
            case 15: has_line = false; break;                                   // no location
            case 14: line += r.svarint(); r.varint(); r.varint(); r.varint(); break;  // long form
            case 13: line += r.svarint(); break;                                // no column
            case 12: case 11: case 10: line += code - 10; r.skip(2); break;     // one-line forms
            default: r.skip(1); break;                                          // short forms
        }
        if (unit >= addr && unit < addr + length) return has_line ? line : first_line;
        addr += length;
    }
    return first_line;
}

}  // namespace

int line_for_offset(LineTableFormat format, std::span<const uint8_t> table, int first_line, uint32_t byte_offset) {
    switch (format) {
        case LineTableFormat::lnotab: return lnotab_line(table, first_line, byte_offset);
        case LineTableFormat::linetable310: return linetable310_line(table, first_line, byte_offset);
        case LineTableFormat::location_table: return location_table_line(table, first_line, byte_offset);
    }
    return first_line;
}

}  // namespace pyat
