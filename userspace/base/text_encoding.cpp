#include "base/text_encoding.h"

#include <fmt/format.h>

#include <algorithm>

namespace pyat {

namespace {

constexpr uint32_t replacement_character = 0xfffd;

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xc0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += char(0xe0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    } else {
        out += char(0xf0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3f));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    }
}

void append_byte_escape(std::string& out, unsigned char byte) { out += fmt::format("\\x{:02x}", byte); }

// Length of the well-formed UTF-8 sequence starting at s[i] (Unicode table 3-7: no overlong
// forms, no surrogates, nothing past U+10FFFF), 0 if there is none; its code point in `cp`.
size_t utf8_sequence(std::string_view s, size_t i, uint32_t& cp) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    auto trail = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
        return k < s.size() && byte(k) >= lo && byte(k) <= hi;
    };
    unsigned char b0 = byte(i);
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    if (b0 >= 0xc2 && b0 <= 0xdf && trail(i + 1)) {
        cp = (uint32_t(b0 & 0x1f) << 6) | (byte(i + 1) & 0x3f);
        return 2;
    }
    if (b0 >= 0xe0 && b0 <= 0xef) {
        unsigned lo = b0 == 0xe0 ? 0xa0 : 0x80, hi = b0 == 0xed ? 0x9f : 0xbf;
        if (!trail(i + 1, lo, hi) || !trail(i + 2)) return 0;
        cp = (uint32_t(b0 & 0x0f) << 12) | (uint32_t(byte(i + 1) & 0x3f) << 6) | (byte(i + 2) & 0x3f);
        return 3;
    }
    if (b0 >= 0xf0 && b0 <= 0xf4) {
        unsigned lo = b0 == 0xf0 ? 0x90 : 0x80, hi = b0 == 0xf4 ? 0x8f : 0xbf;
        if (!trail(i + 1, lo, hi) || !trail(i + 2) || !trail(i + 3)) return 0;
        cp = (uint32_t(b0 & 0x07) << 18) | (uint32_t(byte(i + 1) & 0x3f) << 12) |
             (uint32_t(byte(i + 2) & 0x3f) << 6) | (byte(i + 3) & 0x3f);
        return 4;
    }
    return 0;
}

bool needs_escape(uint32_t cp) {
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0xfffe ||
           cp == 0xffff;
}

}  // namespace

std::string utf8_from_code_units(const uint8_t* units, size_t count, unsigned kind) {
    std::string out;
    out.reserve(count);
    for (size_t i = 0; i < count; i++) {
        uint32_t cp = 0;
        if (kind == 1 || kind == 2 || kind == 4)
            for (unsigned b = 0; b < kind; b++) cp |= uint32_t(units[i * kind + b]) << (8 * b);
        else
            cp = replacement_character;
        if (cp >= 0xdc80 && cp <= 0xdcff)
            append_byte_escape(out, static_cast<unsigned char>(cp - 0xdc00));
        else if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            append_utf8(out, replacement_character);
        else
            append_utf8(out, cp);
    }
    return out;
}

std::string printable_text(std::string_view bytes, size_t max_bytes) {
    constexpr std::string_view ellipsis = "...";
    if (max_bytes != std::string_view::npos && max_bytes < ellipsis.size()) max_bytes = ellipsis.size();
    std::string out;
    out.reserve(std::min(bytes.size(), max_bytes));
    size_t cut_at = 0;  // the last character boundary that leaves room for the ellipsis
    for (size_t i = 0; i < bytes.size() && out.size() <= max_bytes;) {
        if (out.size() <= max_bytes - ellipsis.size()) cut_at = out.size();
        uint32_t cp = 0;
        size_t n = utf8_sequence(bytes, i, cp);
        if (n == 0) {
            append_byte_escape(out, static_cast<unsigned char>(bytes[i]));
            n = 1;
        } else if (cp < 0x80 && needs_escape(cp)) {
            append_byte_escape(out, static_cast<unsigned char>(cp));
        } else if (needs_escape(cp)) {
            out += fmt::format("\\u{:04x}", cp);
        } else {
            out.append(bytes.substr(i, n));
        }
        i += n;
    }
    if (out.size() > max_bytes) {
        out.resize(cut_at);
        out += ellipsis;
    }
    return out;
}

bool is_printable_text(std::string_view bytes) {
    for (size_t i = 0; i < bytes.size();) {
        uint32_t cp = 0;
        size_t n = utf8_sequence(bytes, i, cp);
        if (n == 0 || needs_escape(cp)) return false;
        i += n;
    }
    return true;
}

}  // namespace pyat
