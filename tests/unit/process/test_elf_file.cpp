// ElfFile and load_bias, checked against the memory of real processes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <optional>
#include <string>
#include <utility>

#include "process/elf_file.h"
#include "base/error.h"
#include "process/proc_maps.h"
#include "test_support.h"
#include "base/unique_fd.h"

using namespace pyat;
using namespace pyat::test;

// A symbol of this (PIE) test binary, to check load_bias against an address the linker chose.
extern "C" {
int pyat_elf_test_marker = 42;
}

namespace {

const std::string pyenv312 = "/root/.pyenv/versions/3.12.1/bin/python3.12";

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Bytes of another process, through /proc/PID/mem.
std::optional<std::string> read_memory(pid_t pid, uint64_t address, size_t size) {
    UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::nullopt;
    std::string bytes(size, '\0');
    if (pread(fd.get(), bytes.data(), size, off_t(address)) != ssize_t(size)) return std::nullopt;
    return bytes;
}

uint32_t as_u32(const std::string& bytes) {
    uint32_t v = 0;
    std::memcpy(&v, bytes.data(), sizeof v);
    return v;
}

// A Python interpreter that is past its startup (it has printed "ready") and sleeps.
class SleepingPython : public Child {
public:
    explicit SleepingPython(const std::string& python)
        : Child({python, "-c", "import time; print('ready', flush=True); time.sleep(30)"}) {
        if (!wait_for_output("ready", 30)) throw std::runtime_error(python + " did not start");
    }
    // Child's destructor kills and reaps it.
};

// The path, as the process's maps show it, of the first mapped file whose name starts with `prefix`.
std::string mapped_file(const std::vector<Mapping>& maps, const std::string& prefix) {
    for (const auto& m : maps)
        if (!m.path.empty() && std::filesystem::path(m.path).filename().string().rfind(prefix, 0) == 0) return m.path;
    return "";
}

// The core check: bias + the file's address of Py_Version holds, in the process, the bytes the file
// holds there, and they name the expected version; _PyRuntime lies in a writable mapping.
void check_interpreter(pid_t pid, const std::string& file_in_maps, int minor, bool shared) {
    auto maps = read_maps(pid);
    ElfFile elf = ElfFile::open(file_in_maps);
    EXPECT_EQ(elf.is_shared_object(), shared);
    uint64_t bias = load_bias(elf, maps, file_in_maps);
    if (shared) {
        EXPECT_EQ(bias % 4096, 0u);
    } else {
        EXPECT_EQ(bias, 0u);
    }

    auto version = elf.find_symbol("Py_Version");
    ASSERT_TRUE(version.has_value());
    EXPECT_FALSE(version->tls);
    auto in_file = elf.read_bytes(version->value, 4);
    auto in_process = read_memory(pid, bias + version->value, 4);
    ASSERT_TRUE(in_file && in_process);
    EXPECT_EQ(*in_file, *in_process);
    uint32_t hex = as_u32(*in_process);
    EXPECT_EQ(hex >> 24, 3u);
    EXPECT_EQ((hex >> 16) & 0xff, uint32_t(minor));

    auto runtime = elf.find_symbol("_PyRuntime");
    ASSERT_TRUE(runtime.has_value());
    EXPECT_GT(runtime->size, 1000u);
    uint64_t address = bias + runtime->value;
    auto m = std::find_if(maps.begin(), maps.end(), [&](const Mapping& m) { return m.start <= address && address < m.end; });
    ASSERT_NE(m, maps.end());
    EXPECT_EQ(m->perms.substr(0, 2), "rw");
    // From 3.10 on, _PyRuntime is the whole .PyRuntime section.
    auto section = elf.find_section(".PyRuntime");
    ASSERT_TRUE(section.has_value());
    EXPECT_EQ(section->addr, runtime->value);
    EXPECT_EQ(section->size, runtime->size);
}

TEST(ElfFileTest, DebianNonPiePython311HasBiasZero) {
    SleepingPython py(debian_python);
    check_interpreter(py.pid(), debian_python, 11, false);
}

TEST(ElfFileTest, SharedLibpython312IsRelocated) {
    SleepingPython py(pyenv312);
    auto maps = read_maps(py.pid());
    std::string lib = mapped_file(maps, "libpython3.12");
    ASSERT_FALSE(lib.empty()) << "libpython3.12 is not mapped in " << pyenv312;
    check_interpreter(py.pid(), lib, 12, true);

    // The PIE launcher has a bias too, and is not where _PyRuntime lives.
    ElfFile launcher = ElfFile::open(pyenv312);
    EXPECT_TRUE(launcher.is_shared_object());
    EXPECT_FALSE(launcher.find_symbol("_PyRuntime").has_value());
    uint64_t bias = load_bias(launcher, maps, pyenv312);
    EXPECT_NE(bias, 0u);
    auto main_sym = launcher.find_symbol("main");
    ASSERT_TRUE(main_sym.has_value());
    auto in_file = launcher.read_bytes(main_sym->value, 16);
    auto in_process = read_memory(py.pid(), bias + main_sym->value, 16);
    ASSERT_TRUE(in_file && in_process);
    EXPECT_EQ(*in_file, *in_process);
}

TEST(ElfFileTest, LocalTlsSymbolsComeFromSymtab) {
    ElfFile lib = ElfFile::open("/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0");
    auto tss = lib.find_symbol("_Py_tss_tstate");  // LOCAL: only in .symtab
    ASSERT_TRUE(tss.has_value());
    EXPECT_TRUE(tss->tls);
    EXPECT_EQ(tss->size, 8u);
    EXPECT_FALSE(lib.find_symbol("no_such_symbol_anywhere").has_value());
    EXPECT_FALSE(lib.find_symbol("").has_value());
    EXPECT_FALSE(lib.find_section(".no_such_section").has_value());
    // Undefined symbols (imports) are not "found".
    EXPECT_FALSE(lib.find_symbol("malloc").has_value());
}

TEST(ElfFileTest, PieTestBinaryAndLibcMatchThisProcess) {
    std::string exe = std::filesystem::read_symlink("/proc/self/exe");
    auto maps = read_maps(getpid());
    ElfFile self = ElfFile::open(exe);
    auto marker = self.find_symbol("pyat_elf_test_marker");
    ASSERT_TRUE(marker.has_value());
    EXPECT_EQ(load_bias(self, maps, exe) + marker->value, reinterpret_cast<uint64_t>(&pyat_elf_test_marker));

    std::string libc = mapped_file(maps, "libc.so");
    ASSERT_FALSE(libc.empty());
    ElfFile c = ElfFile::open(libc);
    EXPECT_TRUE(c.is_shared_object());
    auto sym = c.find_symbol("getpid");
    ASSERT_TRUE(sym.has_value());
    EXPECT_EQ(load_bias(c, maps, libc) + sym->value, reinterpret_cast<uint64_t>(&::getpid));

    // Zero-filled tail of a segment reads as zeros; past every segment: nothing.
    auto segments = self.load_segments();
    ASSERT_FALSE(segments.empty());
    EXPECT_EQ(segments.front().offset, 0u);
    for (const auto& s : segments) EXPECT_LE(s.filesz, s.memsz);
    const auto& last = segments.back();
    EXPECT_FALSE(self.read_bytes(last.vaddr + last.memsz, 1).has_value());
    EXPECT_FALSE(self.read_bytes(last.vaddr + last.memsz - 1, 2).has_value());
    EXPECT_FALSE(self.read_bytes(UINT64_MAX - 1, 8).has_value());
    if (last.memsz > last.filesz) {
        auto tail = self.read_bytes(last.vaddr + last.filesz, size_t(last.memsz - last.filesz));
        ASSERT_TRUE(tail.has_value());
        EXPECT_EQ(std::count(tail->begin(), tail->end(), '\0'), long(tail->size()));
    }
}

TEST(ElfFileTest, LoadBiasNeedsTheFileMapped) {
    ElfFile lib = ElfFile::open("/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0");
    std::string e = error_of([&] { load_bias(lib, read_maps(getpid()), "/nowhere/libpython3.12.so.1.0"); });
    EXPECT_TRUE(contains(e, "/nowhere/libpython3.12.so.1.0")) << e;
    EXPECT_TRUE(contains(e, "not mapped")) << e;
    // Hand-made maps: a mapping of the first segment (offset 0) anywhere gives the bias; one that
    // starts past it does not.
    auto maps = parse_maps(
        "7f0000100000-7f0000200000 r-xp 00106000 fd:01 7 /x/lib.so\n"
        "7f0000000000-7f0000100000 r--p 00000000 fd:01 7 /x/lib.so\n");
    EXPECT_EQ(load_bias(lib, maps, "/x/lib.so"), 0x7f0000000000u);
    EXPECT_TRUE(contains(error_of([&] { load_bias(lib, {maps[0]}, "/x/lib.so"); }), "not mapped"));
    // A non-PIE executable needs no mapping at all.
    EXPECT_EQ(load_bias(ElfFile::open(debian_python), {}, debian_python), 0u);
}

TEST(ElfFileTest, OpenFailuresNameThePath) {
    TempDir dir;
    std::ofstream(dir / "text") << "hello, not ELF\n";
    std::ofstream(dir / "empty");
    std::ofstream(dir / "truncated") << std::string("\x7f" "ELF\x02\x01\x01", 7);

    std::string e = error_of([] { ElfFile::open("/no/such/file.so"); });
    EXPECT_TRUE(contains(e, "/no/such/file.so")) << e;
    EXPECT_TRUE(contains(e, "No such file")) << e;
    for (const std::string name : {"text", "empty", "truncated"}) {
        e = error_of([&] { ElfFile::open(dir / name); });
        EXPECT_TRUE(contains(e, dir / name)) << e;
        EXPECT_TRUE(contains(e, "not an ELF file")) << e;
    }
    e = error_of([&] { ElfFile::open(dir.path().string()); });
    EXPECT_TRUE(contains(e, dir.path().string() + " is a directory, not a regular file")) << e;
    EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 0);
}

TEST(ElfFileTest, MovesKeepOwnership) {
    ElfFile a = ElfFile::open(debian_python);
    ElfFile b = std::move(a);
    EXPECT_TRUE(b.find_symbol("_PyRuntime").has_value());
    ElfFile c = ElfFile::open("/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0");
    c = std::move(b);
    EXPECT_EQ(c.path(), debian_python);
    EXPECT_TRUE(c.find_symbol("_PyRuntime").has_value());
    static_assert(!std::is_copy_constructible_v<ElfFile>);
    static_assert(!std::is_copy_assignable_v<ElfFile>);
    static_assert(std::is_nothrow_move_constructible_v<ElfFile>);
}

}  // namespace
