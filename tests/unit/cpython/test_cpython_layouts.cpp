// The per-version layouts under probes/cpython: consistent with the DWARF they were generated from,
// complete, and right when walked: a thread's frame chain built in this test's own memory with
// each version's offsets (3.14 included, which has no build on this machine) reads back as the
// stack we built. Also the attach-time layout check and version detection of stripped builds.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <filesystem>

#include "cpython/code_resolver.h"
#include "cpython/cpython_layout.h"
#include "process/elf_file.h"
#include "cpython/layout_check.h"
#include "cpython/python_process.h"
#include "cpython/python_stack_reader.h"
#include "test_support.h"

using namespace pyat;
using namespace pyat::test;

namespace {

// Zeroed memory blocks that stay put; addresses are what the target's pointers would be.
class FakeHeap {
public:
    uint64_t alloc(size_t size) {
        blocks_.emplace_back(size + 64, 0);
        auto a = reinterpret_cast<uint64_t>(blocks_.back().data());
        return (a + 15) & ~uint64_t(15);
    }
    template <typename T>
    static void put(uint64_t address, T value) { std::memcpy(reinterpret_cast<void*>(address), &value, sizeof(T)); }
    static void put_bytes(uint64_t address, const void* data, size_t n) {
        std::memcpy(reinterpret_cast<void*>(address), data, n);
    }

private:
    std::deque<std::vector<uint8_t>> blocks_;
};

// "def f(x):\n    a = x + 1\n    b = a * 2\n    return b\n" compiled by python3.11: offsets
// 12-20 are line 3. The location table format is the same in 3.11-3.14.
const std::vector<uint8_t> location_table = {0x80, 0x00, 0xd8, 0x08, 0x09, 0x88, 0x41, 0x89, 0x05,
                                             0x80, 0x41, 0xd8, 0x08, 0x09, 0x88, 0x41, 0x89, 0x05,
                                             0x80, 0x41, 0xd8, 0x0b, 0x0c, 0x80, 0x48};

// A fake interpreter of one layout with one thread (this one) running `names` (outermost first).
struct FakeInterpreter {
    FakeHeap heap;
    const CpythonLayout& l;
    uint64_t runtime = 0, interp = 0, tstate = 0;
    uint32_t tid = uint32_t(syscall(SYS_gettid));

    uint64_t str(const std::string& s) {
        uint64_t a = heap.alloc(l.unicode_ascii_data + s.size() + 1);
        FakeHeap::put<int64_t>(a + l.unicode_length, int64_t(s.size()));
        FakeHeap::put<uint32_t>(a + l.unicode_state, (1u << 2) | (1u << 5) | (1u << 6));
        FakeHeap::put_bytes(a + l.unicode_ascii_data, s.data(), s.size());
        return a;
    }
    uint64_t code(const std::string& name) {
        uint64_t c = heap.alloc(512);
        FakeHeap::put<uint64_t>(c + l.bpf.code_name, str(name));
        FakeHeap::put<uint64_t>(c + l.bpf.code_filename, str("demo.py"));
        if (l.code_qualname) FakeHeap::put<uint64_t>(c + l.code_qualname, str("Demo." + name));
        FakeHeap::put<int32_t>(c + l.code_firstlineno, 1);
        uint64_t table = heap.alloc(l.bytes_data + location_table.size());
        if (l.line_table == LineTableFormat::location_table) {
            FakeHeap::put<int64_t>(table + l.bytes_size, int64_t(location_table.size()));
            FakeHeap::put_bytes(table + l.bytes_data, location_table.data(), location_table.size());
        }  // older formats: an empty table, every line is the def line
        FakeHeap::put<uint64_t>(c + l.code_linetable, table);
        return c;
    }
    uint64_t frame(uint64_t code, uint64_t previous, uint8_t owner) {
        const auto& b = l.bpf;
        uint64_t f = heap.alloc(512);
        FakeHeap::put<uint64_t>(f + b.frame_code, code | (b.code_ptr_tag_mask & 1));  // 3.14: a tagged ref
        FakeHeap::put<uint64_t>(f + b.frame_previous, previous);
        if (b.instr_is_pointer)
            FakeHeap::put<uint64_t>(f + b.frame_instr, code + b.code_adaptive + 12);
        else
            FakeHeap::put<int32_t>(f + b.frame_instr, int32_t(12 / b.lasti_scale));
        if (b.frame_owner) FakeHeap::put<uint8_t>(f + b.frame_owner, owner);
        return f;
    }

    FakeInterpreter(const CpythonLayout& layout, const std::vector<std::string>& names) : l(layout) {
        const auto& b = l.bpf;
        runtime = heap.alloc(4096);
        interp = heap.alloc(b.interp_threads_head + 4096);
        tstate = heap.alloc(4096);
        FakeHeap::put<uint64_t>(runtime + b.runtime_interpreters_head, interp);
        FakeHeap::put<uint64_t>(interp + b.interp_threads_head, tstate);
        FakeHeap::put<uint64_t>(tstate + l.tstate_interp, interp);
        // Before 3.11 the TID comes through glibc's struct pthread (tid at 0x2d0).
        uint64_t pthread = heap.alloc(0x400);
        FakeHeap::put<int32_t>(pthread + 0x2d0, int32_t(tid));
        FakeHeap::put<uint64_t>(tstate + b.tstate_thread_id, pthread);
        if (b.tstate_native_thread_id) FakeHeap::put<uint64_t>(tstate + b.tstate_native_thread_id, tid);

        // Outermost first; 3.12+ put a C-stack shim below the bottom frame, which must not show.
        uint64_t previous = 0;
        if (b.owner_skip_min != 0xff) previous = frame(code("shim"), 0, b.owner_skip_min);
        for (const auto& n : names) previous = frame(code(n), previous, 0);
        if (b.current_frame_kind == CURRENT_FRAME_VIA_CFRAME) {
            uint64_t cframe = heap.alloc(64);
            FakeHeap::put<uint64_t>(cframe + b.cframe_current_frame, previous);
            FakeHeap::put<uint64_t>(tstate + b.tstate_cframe, cframe);
        } else {
            FakeHeap::put<uint64_t>(tstate + b.tstate_frame, previous);
        }
        if (l.debug_runtime_interpreters_head) write_debug_offsets();
    }

    void write_debug_offsets() {
        const auto& b = l.bpf;
        FakeHeap::put_bytes(runtime, "xdebugpy", 8);
        FakeHeap::put<uint64_t>(runtime + 8, (uint64_t(l.major) << 24) | (uint64_t(l.minor) << 16) | 0xf0);
        FakeHeap::put<uint64_t>(runtime + 16, 0);
        for (auto [at, value] : std::vector<std::pair<uint16_t, uint64_t>>{
                 {l.debug_runtime_interpreters_head, b.runtime_interpreters_head},
                 {l.debug_interp_threads_head, b.interp_threads_head},
                 {l.debug_tstate_next, b.tstate_next},
                 {l.debug_tstate_current_frame, b.tstate_frame},
                 {l.debug_tstate_native_thread_id, b.tstate_native_thread_id},
                 {l.debug_frame_previous, b.frame_previous},
                 {l.debug_frame_executable, b.frame_code},
                 {l.debug_frame_instr_ptr, b.frame_instr},
                 {l.debug_frame_owner, b.frame_owner},
                 {l.debug_code_filename, b.code_filename},
                 {l.debug_code_name, b.code_name},
                 {l.debug_code_adaptive, b.code_adaptive}})
            if (at) FakeHeap::put<uint64_t>(runtime + at, value);
    }

    PythonProcess process() const {
        PythonProcess p;
        p.pid = getpid();
        p.runtime_address = runtime;
        p.layout = &l;
        p.version = l.version();
        return p;
    }
};

}  // namespace

TEST(CpythonLayouts, EveryVersionFrom38To314IsSupportedAndComplete) {
    EXPECT_EQ(supported_cpython_versions(), "3.8, 3.9, 3.10, 3.11, 3.12, 3.13, 3.14");
    for (const auto& l : known_cpython_layouts()) {
        SCOPED_TRACE(l.version());
        const auto& b = l.bpf;
        EXPECT_EQ(b.frame_kind, l.minor <= 10 ? FRAMES_FRAME_OBJECT : FRAMES_INTERPRETER_FRAME);
        EXPECT_EQ(b.instr_is_pointer, l.minor >= 11 ? 1 : 0);
        EXPECT_EQ(l.tstate_interp, 16);
        for (uint16_t must_be_set : {b.runtime_interpreters_head, b.interp_threads_head, b.tstate_next,
                                     b.tstate_thread_id, b.frame_previous, b.frame_instr, b.code_filename,
                                     b.code_name, l.code_firstlineno, l.code_linetable, l.unicode_ascii_data,
                                     l.dict_keys, l.dictkeys_indices, l.long_digits})
            EXPECT_NE(must_be_set, 0);
        // Thread names read threading._active on every version but 3.14 (whose OS thread names
        // are set by threading itself).
        EXPECT_EQ(l.interp_modules != 0, l.minor != 14);
        // _Py_DebugOffsets exists from 3.13: the check at attach time is on exactly there.
        EXPECT_EQ(l.debug_runtime_interpreters_head != 0, l.minor >= 13);
        EXPECT_EQ(b.code_ptr_tag_mask, l.minor >= 14 ? 3 : 0);
        EXPECT_EQ(b.owner_skip_min, l.minor >= 12 ? 3 : 0xff);
    }
}

TEST(CpythonLayouts, GeneratedFilesMatchTheDwarfOfThePyenvBuilds) {
    // Regenerating probes/cpython from the pyenv builds must change nothing.
    TempDir dir;
    RunResult r = run({source_dir + "/tools/gen_cpython_offsets.py", "--all-pyenv", "--probes-dir", dir.path()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    int compared = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        std::string committed = source_dir + "/probes/cpython/" + entry.path().filename().string();
        EXPECT_EQ(read_file(entry.path()), read_file(committed)) << committed << " is stale: run tools/gen_cpython_offsets.py --all-pyenv";
        compared++;
    }
    EXPECT_EQ(compared, 6) << r.out;  // 3.8 to 3.13
}

class LayoutWalk : public ::testing::TestWithParam<int> {};

TEST_P(LayoutWalk, FakeThreadReadsBackAsBuilt) {
    const CpythonLayout* l = find_cpython_layout(3, GetParam());
    ASSERT_NE(l, nullptr);
    FakeInterpreter fake(*l, {"outer", "middle", "inner"});
    PythonProcess p = fake.process();
    LayoutCheck check = check_layout(ProcessMemory(getpid()), fake.runtime, *l);
    EXPECT_EQ(check.verdict, LayoutVerdict::ok) << check.problem;

    CodeResolver resolver(ProcessMemory(p.pid), *p.layout);
    auto stacks = read_thread_stacks(p, resolver);
    ASSERT_EQ(stacks.size(), 1u);
    ASSERT_TRUE(stacks.count(fake.tid));
    const py_sample& s = *stacks.at(fake.tid);
    ASSERT_EQ(s.hdr.nframes, 3) << "the C-stack shim must be skipped";
    EXPECT_EQ(s.hdr.flags, 0);
    const char* expected[] = {"inner", "middle", "outer"};  // innermost first
    for (int i = 0; i < 3; i++) {
        ResolvedFrame f = resolver.resolve(s.frames[i]);
        EXPECT_EQ(*f.name, (l->code_qualname ? "Demo." : "") + std::string(expected[i]));
        EXPECT_EQ(*f.file, "demo.py");
        EXPECT_EQ(s.frames[i].instr, 12);
        EXPECT_EQ(f.line, l->line_table == LineTableFormat::location_table ? 3u : 1u);
    }
}

INSTANTIATE_TEST_SUITE_P(Cpython, LayoutWalk, ::testing::Values(8, 9, 10, 11, 12, 13, 14),
                         [](const auto& info) { return "3_" + std::to_string(info.param); });

TEST(LayoutCheck, DebugOffsetsThatDisagreeAreAMismatchNamingTheField) {
    const CpythonLayout* l = find_cpython_layout(3, 13);
    ASSERT_NE(l, nullptr);
    FakeInterpreter fake(*l, {"main"});
    ProcessMemory self(getpid());
    FakeHeap::put<uint64_t>(fake.runtime + l->debug_tstate_current_frame, 80);
    LayoutCheck check = check_layout(self, fake.runtime, *l);
    EXPECT_EQ(check.verdict, LayoutVerdict::mismatch);
    EXPECT_NE(check.problem.find("thread_state.current_frame is 80"), std::string::npos) << check.problem;

    fake.write_debug_offsets();
    FakeHeap::put<uint64_t>(fake.runtime + 16, 1);  // free_threaded
    check = check_layout(self, fake.runtime, *l);
    EXPECT_EQ(check.verdict, LayoutVerdict::mismatch);
    EXPECT_NE(check.problem.find("free-threaded"), std::string::npos) << check.problem;

    fake.write_debug_offsets();
    FakeHeap::put_bytes(fake.runtime, "notdebug", 8);
    EXPECT_EQ(check_layout(self, fake.runtime, *l).verdict, LayoutVerdict::mismatch);
}

TEST(LayoutCheck, ThreadNotPointingBackIsAMismatchAndAnEmptyRuntimeIsNotInitialized) {
    const CpythonLayout* l = find_cpython_layout(3, 10);
    ASSERT_NE(l, nullptr);
    FakeInterpreter fake(*l, {"main"});
    ProcessMemory self(getpid());
    FakeHeap::put<uint64_t>(fake.tstate + l->tstate_interp, fake.interp + 8);
    EXPECT_EQ(check_layout(self, fake.runtime, *l).verdict, LayoutVerdict::mismatch);
    FakeHeap::put<uint64_t>(fake.runtime + l->bpf.runtime_interpreters_head, 0);
    EXPECT_EQ(check_layout(self, fake.runtime, *l).verdict, LayoutVerdict::not_initialized);
}

TEST(VersionDetection, StrippedLibpythonWithoutVersionedNameIsToldFromItsVersionString) {
    TempDir dir;
    for (const auto& [lib, full] : std::vector<std::pair<std::string, std::string>>{
             {"/root/.pyenv/versions/3.8.18/lib/libpython3.8.so.1.0", "3.8.18"},
             {"/root/.pyenv/versions/3.10.13/lib/libpython3.10.so.1.0", "3.10.13"},
             {"/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0", "3.13.0"}}) {
        ASSERT_TRUE(std::filesystem::exists(lib)) << lib;
        std::string copy = dir / "libinterp.so";
        RunResult r = run({"strip", "--strip-all", "-o", copy, lib});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        ElfFile elf = ElfFile::open(copy);
        auto v = version_from_rodata(elf);
        ASSERT_TRUE(v.has_value()) << lib;
        EXPECT_EQ(v->text(), full) << lib;  // the full version, not just 3.10
    }
    auto debian = version_from_rodata(ElfFile::open("/usr/bin/python3.11"));
    ASSERT_TRUE(debian.has_value());
    EXPECT_EQ(debian->text(), "3.11.2");
    // Not Python at all: no version.
    EXPECT_FALSE(version_from_rodata(ElfFile::open("/bin/ls")).has_value());
}
