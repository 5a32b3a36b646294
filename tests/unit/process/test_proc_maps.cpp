// /proc/PID/maps parsing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "base/error.h"
#include "process/proc_maps.h"

using namespace pyat;

namespace {

const char* const sample =
    "00400000-00401000 r--p 00000000 fd:01 1311833                            /usr/bin/python3.11\n"
    "00401000-0067e000 r-xp 00001000 fd:01 1311833                            /usr/bin/python3.11\n"
    "00a56000-00a7f000 rw-p 00655000 fd:01 1311833                            /usr/bin/python3.11\n"
    "00a7f000-00b30000 rw-p 00000000 00:00 0 \n"
    "01c3a000-01d5e000 rw-p 00000000 00:00 0                                  [heap]\n"
    "7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 \n"
    "7f1c2b400000-7f1c2b428000 r--p 00000000 fd:01 1312058                    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "7f1c2b600000-7f1c2b700000 r-xp 00002000 103:02 99                        /home/a user/my lib/libx.so (deleted)\n"
    "7f1c2b800000-7f1c2b801000 r--s 00000000 00:05 12                         /dev/shm/with  two  spaces\n"
    "7ffd5d9f1000-7ffd5da12000 rw-p 00000000 00:00 0                          [stack]\n"
    "7ffd5db6f000-7ffd5db73000 r--p 00000000 00:00 0                          [vvar]\n"
    "7ffd5db73000-7ffd5db75000 r-xp 00000000 00:00 0                          [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";  // no final newline

TEST(MapsParser, ParsesEveryKindOfLine) {
    auto maps = parse_maps(sample);
    ASSERT_EQ(maps.size(), 13u);

    EXPECT_EQ(maps[0].start, 0x400000u);
    EXPECT_EQ(maps[0].end, 0x401000u);
    EXPECT_EQ(maps[0].offset, 0u);
    EXPECT_EQ(maps[0].perms, "r--p");
    EXPECT_EQ(maps[0].inode, 1311833u);
    EXPECT_EQ(maps[0].path, "/usr/bin/python3.11");
    EXPECT_FALSE(maps[0].executable());
    EXPECT_TRUE(maps[1].executable());
    EXPECT_EQ(maps[1].offset, 0x1000u);
    EXPECT_EQ(maps[2].offset, 0x655000u);

    // Anonymous memory: no path (the kernel leaves a trailing space).
    EXPECT_EQ(maps[3].path, "");
    EXPECT_EQ(maps[3].inode, 0u);
    EXPECT_EQ(maps[5].path, "");
    EXPECT_EQ(maps[4].path, "[heap]");

    // Paths keep their inner spaces and the " (deleted)" marker.
    EXPECT_EQ(maps[7].path, "/home/a user/my lib/libx.so (deleted)");
    EXPECT_TRUE(maps[7].deleted());
    EXPECT_FALSE(maps[6].deleted());
    EXPECT_EQ(maps[7].start, 0x7f1c2b600000u);
    EXPECT_EQ(maps[8].path, "/dev/shm/with  two  spaces");
    EXPECT_EQ(maps[8].perms, "r--s");

    EXPECT_EQ(maps[9].path, "[stack]");
    EXPECT_EQ(maps[11].path, "[vdso]");
    EXPECT_TRUE(maps[11].executable());
    EXPECT_EQ(maps[12].path, "[vsyscall]");
    EXPECT_EQ(maps[12].start, 0xffffffffff600000u);
    EXPECT_TRUE(maps[12].executable());

    // The device of the mapped file, major and minor in hex (to tell the file at a name from it).
    EXPECT_EQ(maps[0].dev_major, 0xfdu);
    EXPECT_EQ(maps[0].dev_minor, 1u);
    EXPECT_EQ(maps[7].dev_major, 0x103u);
    EXPECT_EQ(maps[7].dev_minor, 2u);
    EXPECT_EQ(maps[3].dev_major, 0u);
}

TEST(MapsParser, SkipsMalformedLines) {
    auto maps = parse_maps(
        "\n"
        "garbage\n"
        "00400000 r--p 00000000 fd:01 1 /no/dash\n"
        "zz-00401000 r--p 00000000 fd:01 1 /bad/hex\n"
        "00401000-00400000 r--p 00000000 fd:01 1 /end/before/start\n"
        "00400000-00401000 r--p 00000000 fd:01\n"
        "00400000-00401000 r--p 00000000 fd:01 x /bad/inode\n"
        "00400000-00401000 r--p 0000g000 fd:01 1 /bad/offset\n"
        "00400000-00401000 r--p 00000000 fd01 1 /bad/device\n"
        "00400000-00401000 rw 00000000 fd:01 1 /bad/perms\n"
        "00400000-00401000 r--p 00000000 fd:01 1 /good\n"
        "99999999999999999999-00401000 r--p 00000000 fd:01 1 /overflow\n");
    ASSERT_EQ(maps.size(), 1u);
    EXPECT_EQ(maps[0].path, "/good");
    EXPECT_TRUE(parse_maps("").empty());
}

TEST(MapsParser, ReadsALiveProcess) {
    auto maps = read_maps(getpid());
    ASSERT_FALSE(maps.empty());
    std::string exe = std::filesystem::read_symlink("/proc/self/exe");
    // The code of this very function is in an executable mapping of the test binary.
    auto here = reinterpret_cast<uint64_t>(reinterpret_cast<const void*>(&parse_maps));
    auto it = std::find_if(maps.begin(), maps.end(), [&](const Mapping& m) { return m.start <= here && here < m.end; });
    ASSERT_NE(it, maps.end());
    EXPECT_EQ(it->path, exe);
    EXPECT_TRUE(it->executable());
    EXPECT_TRUE(std::any_of(maps.begin(), maps.end(), [](const Mapping& m) { return m.path == "[stack]"; }));
    EXPECT_TRUE(std::is_sorted(maps.begin(), maps.end(), [](const Mapping& a, const Mapping& b) { return a.start < b.start; }));
}

TEST(MapsParser, MissingProcessIsAUserError) {
    // PIDs are below pid_max, which is at most 2^22: 4194304 never exists.
    for (int pid : {4194304, 0, -5}) {
        try {
            read_maps(pid);
            FAIL() << pid;
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), "no process with PID " + std::to_string(pid));
        }
    }
}

}  // namespace
