// Line-table decoders against what each real interpreter says (fixtures made by
// tools/gen_linetable_fixtures.py), plus hostile input.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>
#include <sstream>
#include <string>
#include <vector>

#include "cpython/line_table.h"
#include "test_support.h"

using namespace pyat;
using namespace pyat::test;

namespace {

struct CodeFixture {
    std::string name;
    int first_line = 0;
    uint32_t code_bytes = 0;
    std::vector<uint8_t> table;
    std::vector<std::pair<uint32_t, std::optional<int>>> runs;  // (start offset, line or none)

    // The expected line at `offset`: the interpreter's; where it has none, the line of the last
    // instruction before it that has one (as py-spy and Austin show it), else first_line.
    int expected(uint32_t offset) const {
        std::optional<int> line, last;
        for (const auto& [start, l] : runs) {
            if (start > offset) break;
            line = l;
            if (l) last = l;
        }
        return line.value_or(last.value_or(first_line));
    }
};

struct Fixture {
    std::string version;
    LineTableFormat format = LineTableFormat::lnotab;
    std::vector<CodeFixture> codes;
};

std::vector<uint8_t> from_hex(const std::string& hex) {
    std::vector<uint8_t> bytes;
    if (hex == "-") return bytes;
    if (hex.size() % 2) throw std::runtime_error("odd hex length");
    for (size_t i = 0; i < hex.size(); i += 2) bytes.push_back(uint8_t(std::stoul(hex.substr(i, 2), nullptr, 16)));
    return bytes;
}

Fixture load_fixture(const std::string& version) {
    std::string path = std::string(PYAT_SOURCE_DIR) + "/tests/unit/fixtures/linetables/" + version + ".txt";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("missing fixture " + path);
    Fixture f;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::string kind;
        fields >> kind;
        if (kind == "version") {
            fields >> f.version;
        } else if (kind == "format") {
            std::string name;
            fields >> name;
            if (name == "lnotab") f.format = LineTableFormat::lnotab;
            else if (name == "linetable310") f.format = LineTableFormat::linetable310;
            else if (name == "location_table") f.format = LineTableFormat::location_table;
            else throw std::runtime_error("unknown format " + name);
        } else if (kind == "code") {
            CodeFixture c;
            std::string hex;
            if (!(fields >> c.name >> c.first_line >> c.code_bytes >> hex)) throw std::runtime_error("bad line: " + line);
            c.table = from_hex(hex);
            f.codes.push_back(std::move(c));
        } else if (kind == "lines") {
            if (f.codes.empty()) throw std::runtime_error("lines before code");
            std::string run;
            while (fields >> run) {
                auto colon = run.find(':');
                std::string l = run.substr(colon + 1);
                f.codes.back().runs.push_back(
                    {uint32_t(std::stoul(run.substr(0, colon))), l == "-" ? std::nullopt : std::optional<int>(std::stoi(l))});
            }
        } else {
            throw std::runtime_error("bad fixture line: " + line);
        }
    }
    return f;
}

class LineTableFixture : public testing::TestWithParam<const char*> {};

TEST_P(LineTableFixture, EveryInstructionOffsetDecodesToTheInterpretersLine) {
    Fixture f = load_fixture(GetParam());
    EXPECT_EQ(f.version, GetParam());
    ASSERT_GE(f.codes.size(), 300u);
    size_t offsets = 0, mismatches = 0;
    std::string first_failures;
    for (const auto& c : f.codes) {
        ASSERT_FALSE(c.runs.empty()) << c.name;
        for (uint32_t off = 0; off < c.code_bytes; off += 2) {
            int want = c.expected(off);
            int got = line_for_offset(f.format, c.table, c.first_line, off);
            offsets++;
            if (got != want) {
                if (++mismatches <= 10)
                    first_failures += "\n  " + c.name + " (line " + std::to_string(c.first_line) + ") offset " +
                                      std::to_string(off) + ": want " + std::to_string(want) + ", got " +
                                      std::to_string(got);
            }
        }
    }
    EXPECT_EQ(mismatches, 0u) << "of " << offsets << " offsets:" << first_failures;
    EXPECT_GT(offsets, 10000u);
}

INSTANTIATE_TEST_SUITE_P(CPython, LineTableFixture, testing::Values("3.8", "3.9", "3.10", "3.11", "3.12", "3.13"),
                         [](const testing::TestParamInfo<const char*>& info) {
                             std::string name = std::string("v") + info.param;
                             for (auto& ch : name)
                                 if (ch == '.') ch = '_';
                             return name;
                         });

// The fixtures must cover the awkward encodings, or a passing test proves little.
TEST(LineTableDecoder, FixturesCoverTheRareEncodings) {
    // 3.8: a line gap split into (0, 127) pairs, an address gap split into (255, 0) pairs, and a
    // negative line increment.
    bool split_line = false, split_addr = false, negative = false;
    for (const auto& c : load_fixture("3.8").codes)
        for (size_t i = 0; i + 1 < c.table.size(); i += 2) {
            split_line |= c.table[i] == 0 && c.table[i + 1] == 127;
            split_addr |= c.table[i] == 255 && c.table[i + 1] == 0;
            negative |= int8_t(c.table[i + 1]) < 0;
        }
    EXPECT_TRUE(split_line && split_addr && negative);

    // 3.10: ranges without a line (-128).
    bool no_line = false;
    for (const auto& c : load_fixture("3.10").codes)
        for (size_t i = 0; i + 1 < c.table.size(); i += 2) no_line |= c.table[i + 1] == 0x80;
    EXPECT_TRUE(no_line);

    // 3.11+: every entry code (short forms, one-line forms, no-column, long form, no location).
    for (const char* v : {"3.11", "3.12", "3.13"}) {
        std::vector<bool> seen(16);
        for (const auto& c : load_fixture(v).codes)
            for (uint8_t b : c.table)
                if (b & 0x80) seen[(b >> 3) & 15] = true;  // entry heads (other bytes are < 0x80)
        EXPECT_TRUE(std::find(seen.begin(), seen.begin() + 10, true) != seen.begin() + 10) << v << " short forms";
        for (int code : {10, 11, 12, 13, 14, 15}) EXPECT_TRUE(seen[code]) << v << " code " << code;
    }
}

TEST(LineTableDecoder, EmptyTableOrOffsetOutsideGivesFirstLine) {
    for (auto format : {LineTableFormat::lnotab, LineTableFormat::linetable310, LineTableFormat::location_table}) {
        EXPECT_EQ(line_for_offset(format, {}, 42, 0), 42);
        EXPECT_EQ(line_for_offset(format, {}, 42, 1000), 42);
    }
    // 3.10: one range of 4 bytes at line +1; beyond it there is no line.
    const uint8_t t310[] = {4, 1};
    EXPECT_EQ(line_for_offset(LineTableFormat::linetable310, t310, 10, 2), 11);
    EXPECT_EQ(line_for_offset(LineTableFormat::linetable310, t310, 10, 4), 10);
    // 3.11: one no-column entry of 2 code units, line +3.
    const uint8_t t311[] = {0x80 | (13 << 3) | 1, 6};
    EXPECT_EQ(line_for_offset(LineTableFormat::location_table, t311, 10, 0), 13);
    EXPECT_EQ(line_for_offset(LineTableFormat::location_table, t311, 10, 3), 13);
    EXPECT_EQ(line_for_offset(LineTableFormat::location_table, t311, 10, 4), 10);
}

TEST(LineTableDecoder, HandBuiltTablesFollowTheDocumentedRules) {
    // lnotab: (6, 1) (250, 0) (255, 0) (0, 127) (0, 127) (2, -3): line changes apply from the
    // address reached.
    const uint8_t lnotab[] = {6, 1, 250, 0, 255, 0, 0, 127, 0, 127, 2, 0xfd};
    EXPECT_EQ(line_for_offset(LineTableFormat::lnotab, lnotab, 1, 0), 1);
    EXPECT_EQ(line_for_offset(LineTableFormat::lnotab, lnotab, 1, 6), 2);
    EXPECT_EQ(line_for_offset(LineTableFormat::lnotab, lnotab, 1, 510), 2);
    EXPECT_EQ(line_for_offset(LineTableFormat::lnotab, lnotab, 1, 511), 256);
    EXPECT_EQ(line_for_offset(LineTableFormat::lnotab, lnotab, 1, 513), 253);
    // location table: short form (same line), one-line form +2, long form -5, no location.
    const uint8_t loc[] = {
        0x80 | (0 << 3) | 0, 0x01,                     // 1 unit, line 10
        0x80 | (12 << 3) | 1, 4, 8,                    // 2 units, line 12
        0x80 | (14 << 3) | 0, 11, 0, 1, 2,             // 1 unit, svarint 11 = -5 -> line 7
        0x80 | (15 << 3) | 2,                          // 3 units, no line
        0x80 | (13 << 3) | 0, 0x40 | 0x00, 0x01,       // 1 unit, svarint 64 = +32 -> line 39
    };
    auto at = [&](uint32_t byte) { return line_for_offset(LineTableFormat::location_table, loc, 10, byte); };
    EXPECT_EQ(at(0), 10);
    EXPECT_EQ(at(2), 12);
    EXPECT_EQ(at(5), 12);
    EXPECT_EQ(at(6), 7);
    EXPECT_EQ(at(8), 7);    // no location: the last line before it
    EXPECT_EQ(at(12), 7);
    EXPECT_EQ(at(14), 39);
    EXPECT_EQ(at(16), 10);  // past the end
}

// Truncated copies of real tables, and random bytes: never a read outside the span (each input is
// a vector of exactly its size, so ASan would flag one), and every answer is a line.
TEST(LineTableDecoder, TruncatedAndRandomTablesAreSafe) {
    std::mt19937 rng(12345);
    for (const char* v : {"3.8", "3.10", "3.11", "3.13"}) {
        Fixture f = load_fixture(v);
        for (size_t i = 0; i < f.codes.size(); i += 7) {
            const auto& c = f.codes[i];
            for (size_t len = 0; len <= c.table.size(); len++) {
                std::vector<uint8_t> cut(c.table.begin(), c.table.begin() + long(len));
                for (uint32_t off : {0u, 2u, c.code_bytes / 2 & ~1u, c.code_bytes, 0xfffffffeu})
                    (void)line_for_offset(f.format, cut, c.first_line, off);
            }
        }
    }
    std::uniform_int_distribution<int> byte(0, 255), size(0, 64);
    for (int round = 0; round < 20000; round++) {
        std::vector<uint8_t> junk(size_t(size(rng)));
        for (auto& b : junk) b = uint8_t(byte(rng));
        uint32_t off = uint32_t(rng());
        for (auto format : {LineTableFormat::lnotab, LineTableFormat::linetable310, LineTableFormat::location_table}) {
            (void)line_for_offset(format, junk, 1, off);
            (void)line_for_offset(format, junk, 1, off % 128);
        }
    }
    // Varints that never end, and huge line deltas: no overflow trap, no hang.
    std::vector<uint8_t> endless = {0x80 | (13 << 3) | 7};
    endless.resize(100000, 0x7f);
    (void)line_for_offset(LineTableFormat::location_table, endless, 5, 0);
    (void)line_for_offset(LineTableFormat::location_table, endless, 5, 100);
    std::vector<uint8_t> big;
    for (int i = 0; i < 10000; i++) big.insert(big.end(), {0x80 | (13 << 3), 0x7e, 0x7f, 0x7f, 0x7f, 0x7f, 0x03});
    (void)line_for_offset(LineTableFormat::location_table, big, 1, 19990);
}

TEST(LineTableDecoder, LivePython311AgreesWithDisOnEveryInstruction) {
    // python3.11 dumps, for every code object of a stdlib module: firstlineno, table hex, and the
    // (offset, line) of each instruction as dis reports them.
    const char* script = R"PY(
import dis, types, json.decoder as m
src = open(m.__file__).read()
def walk(c):
    yield c
    for k in c.co_consts:
        if isinstance(k, types.CodeType): yield from walk(k)
for c in walk(compile(src, m.__file__, "exec")):
    pairs = " ".join(f"{i.offset}:{i.positions.lineno or 0}" for i in dis.get_instructions(c))
    print(c.co_firstlineno, c.co_linetable.hex(), pairs)
)PY";
    RunResult r = run({debian_python, "-c", script});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream in(r.out);
    std::string line;
    int checked = 0, mismatches = 0, without_line = 0, without_line_mismatches = 0;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        int first;
        std::string hex, pair;
        f >> first >> hex;
        std::vector<uint8_t> table;
        for (size_t i = 0; i + 1 < hex.size(); i += 2) table.push_back(uint8_t(std::stoi(hex.substr(i, 2), nullptr, 16)));
        int last = 0;  // the line of the last instruction that had one
        while (f >> pair) {
            auto colon = pair.find(':');
            uint32_t offset = uint32_t(std::stoul(pair.substr(0, colon)));
            int expected = std::stoi(pair.substr(colon + 1));
            int got = line_for_offset(LineTableFormat::location_table, table, first, offset);
            if (expected == 0) {
                // No line of its own (the jump back at a loop's end, RESUME in a generator): the
                // last line before it, not the def line.
                if (last) {
                    without_line++;
                    if (got != last) without_line_mismatches++;
                }
                continue;
            }
            last = expected;
            checked++;
            if (got != expected) mismatches++;
        }
    }
    EXPECT_GT(checked, 500);
    EXPECT_EQ(mismatches, 0);
    EXPECT_GT(without_line, 5);
    EXPECT_EQ(without_line_mismatches, 0);
}

TEST(LineTableDecoder, OlderFormatsAndHostileInput) {
    // lnotab: (addr+6, line+1), (addr+4, line+2) from first line 10.
    std::vector<uint8_t> lnotab = {6, 1, 4, 2};
    EXPECT_EQ(line_for_offset(LineTableFormat::lnotab, lnotab, 10, 0), 10);
    EXPECT_EQ(line_for_offset(LineTableFormat::lnotab, lnotab, 10, 6), 11);
    EXPECT_EQ(line_for_offset(LineTableFormat::lnotab, lnotab, 10, 12), 13);
    // 3.10: ranges [0,4) line+0, [4,10) line+1, [10,12) no line.
    std::vector<uint8_t> t310 = {4, 0, 6, 1, 2, 0x80};
    EXPECT_EQ(line_for_offset(LineTableFormat::linetable310, t310, 5, 2), 5);
    EXPECT_EQ(line_for_offset(LineTableFormat::linetable310, t310, 5, 8), 6);
    EXPECT_EQ(line_for_offset(LineTableFormat::linetable310, t310, 5, 11), 6);  // no line: the one before
    std::vector<uint8_t> garbage = {0xff, 0xff, 0x7f, 0x70};
    EXPECT_EQ(line_for_offset(LineTableFormat::location_table, garbage, 7, 1000), 7);
    EXPECT_EQ(line_for_offset(LineTableFormat::location_table, {}, 7, 0), 7);
}

}  // namespace
