// The shared text step: CPython str code units to UTF-8, and any bytes to printable one-line UTF-8.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <unistd.h>

#include <cstring>

#include "cpython/cpython_layout.h"
#include "cpython/python_objects.h"
#include "base/text_encoding.h"

using namespace pyat;

namespace {

// Code points as a str of `kind` stores them (little-endian code units).
std::vector<uint8_t> units(const std::vector<uint32_t>& code_points, unsigned kind) {
    std::vector<uint8_t> out;
    for (uint32_t cp : code_points)
        for (unsigned b = 0; b < kind; b++) out.push_back(uint8_t(cp >> (8 * b)));
    return out;
}

std::string decode(const std::vector<uint32_t>& code_points, unsigned kind) {
    auto u = units(code_points, kind);
    return utf8_from_code_units(u.data(), code_points.size(), kind);
}

// Python's own check: does the text decode as strict UTF-8?
bool valid_utf8(const std::string& s) { return is_printable_text(printable_text(s)) && printable_text(s) == s; }

}  // namespace

TEST(TextEncoding, CompactAsciiAndLatin1) {
    EXPECT_EQ(decode({'m', 'a', 'i', 'n'}, 1), "main");
    EXPECT_EQ(decode({'c', 'a', 'f', 0xe9}, 1), "caf\xc3\xa9");          // é
    EXPECT_EQ(decode({0xff, 0x80}, 1), "\xc3\xbf\xc2\x80");              // ÿ, U+0080 stays a code point
    EXPECT_EQ(decode({}, 1), "");
}

TEST(TextEncoding, Ucs2AndUcs4) {
    EXPECT_EQ(decode({0x65e5, 0x672c}, 2), "\xe6\x97\xa5\xe6\x9c\xac");  // 日本
    EXPECT_EQ(decode({0x1f600, 'x'}, 4), "\xf0\x9f\x98\x80x");           // 4-byte UTF-8
    EXPECT_EQ(decode({0x10ffff}, 4), "\xf4\x8f\xbf\xbf");
}

TEST(TextEncoding, SurrogateEscapeBecomesTheByteItStandsFor) {
    // os.fsdecode(b"/tmp/caf\xe9/mod.py") == "/tmp/caf\udce9/mod.py"
    std::vector<uint32_t> path;
    for (char c : std::string("/tmp/caf")) path.push_back(uint32_t(c));
    path.push_back(0xdce9);
    for (char c : std::string("/mod.py")) path.push_back(uint32_t(c));
    for (unsigned kind : {2u, 4u}) EXPECT_EQ(decode(path, kind), "/tmp/caf\\xe9/mod.py") << kind;
    EXPECT_EQ(decode({0xdc80, 0xdcff}, 2), "\\x80\\xff");
}

TEST(TextEncoding, OtherLoneSurrogatesAndImpossibleCodePointsAreReplaced) {
    const std::string fffd = "\xef\xbf\xbd";
    EXPECT_EQ(decode({0xd800}, 2), fffd);
    EXPECT_EQ(decode({0xdbff, 0xdc00}, 2), fffd + fffd);  // a str holds code points, not UTF-16 pairs
    EXPECT_EQ(decode({0xdc7f}, 4), fffd);                 // just below the surrogateescape range
    EXPECT_EQ(decode({0xdd00}, 4), fffd);
    EXPECT_EQ(decode({0x110000}, 4), fffd);
    EXPECT_EQ(decode({0xffffffff}, 4), fffd);
    uint8_t three[] = {'a', 'b', 'c'};
    EXPECT_EQ(utf8_from_code_units(three, 1, 3), fffd);  // no such kind
    for (auto s : {decode({0xd800, 'x', 0xdfff}, 4), decode({0xdce9}, 2)}) EXPECT_TRUE(valid_utf8(s)) << s;
}

TEST(TextEncoding, ControlCharactersAreKeptByTheDecoderForTheWritersToNeutralise) {
    EXPECT_EQ(decode({'a', 0, '\n', 'b'}, 1), std::string("a\0\nb", 4));
}

TEST(PrintableText, ValidUtf8IsKept) {
    for (std::string s : {"", "main", "Server.handle (app.py:12)", "caf\xc3\xa9", "\xe6\x97\xa5",
                          "\xf0\x9f\x98\x80", "<>&\"'", "a\\xe9b", "\xef\xbf\xbd", "\xc2\xa0"}) {
        EXPECT_EQ(printable_text(s), s);
        EXPECT_TRUE(is_printable_text(s)) << s;
    }
}

TEST(PrintableText, ControlsBecomeEscapes) {
    EXPECT_EQ(printable_text(std::string("a\0b", 3)), "a\\x00b");
    EXPECT_EQ(printable_text("line1\nline2\r\n"), "line1\\x0aline2\\x0d\\x0a");
    EXPECT_EQ(printable_text("\t\x1b[31mred\x7f"), "\\x09\\x1b[31mred\\x7f");
    EXPECT_EQ(printable_text("\xc2\x85\xc2\x9b"), "\\u0085\\u009b");  // C1: NEL, CSI
    EXPECT_EQ(printable_text("a\xe2\x80\xa8" "b\xe2\x80\xa9"), "a\\u2028b\\u2029");
    EXPECT_EQ(printable_text("\xef\xbf\xbe\xef\xbf\xbf"), "\\ufffe\\uffff");  // not XML characters
    EXPECT_FALSE(is_printable_text("a\nb"));
    EXPECT_FALSE(is_printable_text(std::string("\0", 1)));
}

TEST(PrintableText, InvalidBytesBecomeEscapes) {
    EXPECT_EQ(printable_text("caf\xe9"), "caf\\xe9");                       // Latin-1 byte
    EXPECT_EQ(printable_text("\xed\xb3\xa9"), "\\xed\\xb3\\xa9");           // an encoded lone surrogate
    EXPECT_EQ(printable_text("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
    EXPECT_EQ(printable_text("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");           // overlong, 3 bytes
    EXPECT_EQ(printable_text("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
    EXPECT_EQ(printable_text("\xf5\x80"), "\\xf5\\x80");
    EXPECT_EQ(printable_text("\xe6\x97"), "\\xe6\\x97");                    // truncated sequence
    EXPECT_EQ(printable_text("\xe6\x97x"), "\\xe6\\x97x");
    EXPECT_EQ(printable_text("\x80\xbf"), "\\x80\\xbf");                    // lone continuation bytes
    EXPECT_FALSE(is_printable_text("caf\xe9"));
    // Every byte value, alone and in every pair, comes out valid and printable.
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            std::string s{char(a), char(b)};
            std::string p = printable_text(s);
            ASSERT_TRUE(is_printable_text(p)) << a << " " << b;
            ASSERT_EQ(printable_text(p), p) << a << " " << b;  // idempotent
        }
    }
}

TEST(PrintableText, CappedAtACharacterBoundary) {
    EXPECT_EQ(printable_text("abcdefgh", 8), "abcdefgh");
    EXPECT_EQ(printable_text("abcdefghi", 8), "abcde...");
    std::string wide;
    for (int i = 0; i < 10; i++) wide += "\xe6\x97\xa5";  // 30 bytes
    std::string cut = printable_text(wide, 10);
    EXPECT_EQ(cut, "\xe6\x97\xa5\xe6\x97\xa5...");
    EXPECT_TRUE(is_printable_text(cut));
    EXPECT_EQ(printable_text(std::string(1 << 20, '\n'), 100).size(), 99u);  // "\x0a" x 24 + "..."
    std::string huge(1 << 20, 'x');
    EXPECT_EQ(printable_text(huge), huge);
}

// read_unicode decodes every str kind through utf8_from_code_units: a str laid out in this test's
// own memory with each supported version's layout, read through process_vm_readv as from a target.
TEST(TextEncoding, ReadUnicodeDecodesEveryKindOfEveryVersion) {
    struct Case {
        unsigned kind;
        bool ascii;
        std::vector<uint32_t> code_points;
        std::string expected;
    };
    std::vector<uint32_t> surrogate_path = {'/', 'c', 'a', 'f', 0xdce9, '/', 'm', '.', 'p', 'y'};
    const std::vector<Case> cases = {
        {1, true, {'m', 'a', 'i', 'n'}, "main"},
        {1, false, {'c', 'a', 'f', 0xe9}, "caf\xc3\xa9"},
        {2, false, surrogate_path, "/caf\\xe9/m.py"},
        {2, false, {0x65e5, 0xd800}, "\xe6\x97\xa5\xef\xbf\xbd"},
        {4, false, {0x1f600}, "\xf0\x9f\x98\x80"},
        {4, false, surrogate_path, "/caf\\xe9/m.py"},
    };
    for (int minor = 8; minor <= 14; minor++) {
        const CpythonLayout* layout = find_cpython_layout(3, minor);
        ASSERT_NE(layout, nullptr) << minor;
        PythonObjects objects(ProcessMemory(getpid()), *layout);
        for (const auto& c : cases) {
            std::vector<uint8_t> str(256, 0);
            int64_t length = int64_t(c.code_points.size());
            uint32_t state = (c.kind << 2) | (1u << 5) | (c.ascii ? 1u << 6 : 0u);
            std::memcpy(str.data() + layout->unicode_length, &length, sizeof(length));
            std::memcpy(str.data() + layout->unicode_state, &state, sizeof(state));
            auto data = units(c.code_points, c.kind);
            size_t at = c.ascii ? layout->unicode_ascii_data : layout->unicode_compact_data;
            std::memcpy(str.data() + at, data.data(), data.size());
            EXPECT_EQ(objects.read_unicode(reinterpret_cast<uint64_t>(str.data())), c.expected)
                << "3." << minor << " kind " << c.kind;
        }
    }
}
