// Location-table decoding against the real interpreter, /proc/PID/maps parsing, CLI parsing.
#include <gtest/gtest.h>

#include "cli.h"
#include "line_table.h"
#include "proc_maps.h"
#include "test_support.h"

using namespace pyat;
using namespace pyat::test;

TEST(LineTable, Python311LocationTableMatchesCoPositionsOnEveryInstruction) {
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
    int checked = 0, mismatches = 0;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        int first;
        std::string hex, pair;
        f >> first >> hex;
        std::vector<uint8_t> table;
        for (size_t i = 0; i + 1 < hex.size(); i += 2) table.push_back(uint8_t(std::stoi(hex.substr(i, 2), nullptr, 16)));
        while (f >> pair) {
            auto colon = pair.find(':');
            uint32_t offset = uint32_t(std::stoul(pair.substr(0, colon)));
            int expected = std::stoi(pair.substr(colon + 1));
            if (expected == 0) continue;  // no line (e.g. RESUME in a generator)
            checked++;
            if (line_for_offset(LineTableFormat::location_table, table, first, offset) != expected) mismatches++;
        }
    }
    EXPECT_GT(checked, 500);
    EXPECT_EQ(mismatches, 0);
}

TEST(LineTable, OlderFormatsAndHostileInput) {
    // lnotab: (addr+6, line+1), (addr+4, line+2) from first line 10.
    std::vector<uint8_t> lnotab = {6, 1, 4, 2};
    EXPECT_EQ(line_for_offset(LineTableFormat::lnotab, lnotab, 10, 0), 10);
    EXPECT_EQ(line_for_offset(LineTableFormat::lnotab, lnotab, 10, 6), 11);
    EXPECT_EQ(line_for_offset(LineTableFormat::lnotab, lnotab, 10, 12), 13);
    // 3.10: ranges [0,4) line+0, [4,10) line+1, [10,12) no line.
    std::vector<uint8_t> t310 = {4, 0, 6, 1, 2, 0x80};
    EXPECT_EQ(line_for_offset(LineTableFormat::linetable310, t310, 5, 2), 5);
    EXPECT_EQ(line_for_offset(LineTableFormat::linetable310, t310, 5, 8), 6);
    EXPECT_EQ(line_for_offset(LineTableFormat::linetable310, t310, 5, 11), 5);
    std::vector<uint8_t> garbage = {0xff, 0xff, 0x7f, 0x70};
    EXPECT_EQ(line_for_offset(LineTableFormat::location_table, garbage, 7, 1000), 7);
    EXPECT_EQ(line_for_offset(LineTableFormat::location_table, {}, 7, 0), 7);
}

TEST(ProcMaps, ParsesPathsWithSpacesAndAnonymousMappings) {
    auto maps = parse_maps(
        "00400000-00423000 r--p 00000000 fd:00 1234   /usr/bin/python3.11\n"
        "7f00-7f10 r-xp 00001000 fd:00 99 /opt/my dir/libpython3.11.so.1.0 (deleted)\n"
        "7f20-7f30 rw-p 00000000 00:00 0 \n"
        "garbage\n"
        "7ffd-7ffe rw-p 00000000 00:00 0                          [stack]\n");
    ASSERT_EQ(maps.size(), 4u);
    EXPECT_EQ(maps[0].start, 0x400000u);
    EXPECT_EQ(maps[0].path, "/usr/bin/python3.11");
    EXPECT_TRUE(maps[1].executable());
    EXPECT_EQ(maps[1].offset, 0x1000u);
    EXPECT_EQ(maps[1].path, "/opt/my dir/libpython3.11.so.1.0 (deleted)");
    EXPECT_EQ(maps[2].path, "");
    EXPECT_EQ(maps[3].path, "[stack]");
}

TEST(Cli, ModesFormatsAndDefaults) {
    auto parse = [](std::vector<const char*> args) {
        args.insert(args.begin(), "pyasynctrace");
        return parse_command_line(int(args.size()), args.data());
    };
    auto attach = parse({"-p", "42", "-d", "2.5s", "-o", "a.svg", "-o", "callgrind.out.x", "--hz", "199"});
    ASSERT_TRUE(attach.options) << attach.message;
    EXPECT_EQ(attach.options->mode, TargetMode::attach_pid);
    EXPECT_EQ(attach.options->pid, 42);
    EXPECT_DOUBLE_EQ(*attach.options->duration_s, 2.5);
    EXPECT_EQ(attach.options->hz, 199u);
    EXPECT_EQ(attach.options->outputs[0].format, OutputFormat::svg);
    EXPECT_EQ(attach.options->outputs[1].format, OutputFormat::callgrind);

    auto launch = parse({"--clock", "wall", "--", "python3", "-c", "print(1)", "-p", "3"});
    ASSERT_TRUE(launch.options) << launch.message;
    EXPECT_EQ(launch.options->mode, TargetMode::launch);
    EXPECT_EQ(launch.options->clock, Clock::wall);
    EXPECT_EQ(launch.options->command, (std::vector<std::string>{"python3", "-c", "print(1)", "-p", "3"}));

    auto all = parse({});
    ASSERT_TRUE(all.options);
    EXPECT_EQ(all.options->mode, TargetMode::all_processes);
    EXPECT_EQ(all.options->hz, 99u);
    EXPECT_EQ(all.options->clock, Clock::cpu);

    auto forced = parse({"-o", "x.txt", "--format", "folded"});
    ASSERT_TRUE(forced.options) << forced.message;
    EXPECT_EQ(forced.options->outputs[0].format, OutputFormat::folded);

    for (auto bad : std::vector<std::vector<const char*>>{{"-p", "0"}, {"-p", "-3"}, {"--hz", "10001"},
                                                          {"-d", "inf"}, {"-o", "x.pdf"}, {"--format", "svg"},
                                                          {"--bogus"}, {"--"}}) {
        auto r = parse(bad);
        EXPECT_FALSE(r.options) << bad[0];
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_EQ(r.message.find('\n'), std::string::npos) << r.message;
    }
}

TEST(Cli, OutputWritabilityIsCheckedWithoutLeavingFiles) {
    TempDir dir;
    EXPECT_NO_THROW(check_output_writable(dir / "new.svg"));
    EXPECT_FALSE(std::filesystem::exists(dir / "new.svg"));
    EXPECT_THROW(check_output_writable(dir / "missing/x.svg"), std::exception);
    EXPECT_THROW(check_output_writable(dir.path().string()), std::exception);
}
