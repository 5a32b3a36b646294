// CodeResolver and StackAggregator against code objects laid out in this test's own memory with the 3.11 layout:
// names, files and lines are read through process_vm_readv exactly as from a target.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <vector>

#include "cpython/code_resolver.h"
#include "cpython/cpython_layout.h"
#include "profile/stack_aggregator.h"

using namespace pyat;

namespace {

// A Python object image: a byte buffer we fill at the layout's offsets.
struct Blob {
    std::vector<uint8_t> bytes = std::vector<uint8_t>(512, 0);
    uint64_t address() const { return reinterpret_cast<uint64_t>(bytes.data()); }
    template <typename T>
    void put(size_t offset, T value) { std::memcpy(bytes.data() + offset, &value, sizeof(T)); }
    void put_bytes(size_t offset, const void* data, size_t n) { std::memcpy(bytes.data() + offset, data, n); }
};

const CpythonLayout& layout311() {
    const CpythonLayout* l = find_cpython_layout(3, 11);
    EXPECT_NE(l, nullptr);
    return *l;
}

Blob ascii_string(const CpythonLayout& l, const std::string& s) {
    Blob b;
    b.put<int64_t>(l.unicode_length, int64_t(s.size()));
    b.put<uint32_t>(l.unicode_state, (1u << 2) | (1u << 5) | (1u << 6));  // kind 1, compact, ascii
    b.put_bytes(l.unicode_ascii_data, s.data(), s.size());
    return b;
}

// "def f(x):\n    a = x + 1\n    b = a * 2\n    return b\n" compiled by python3.11.
const std::vector<uint8_t> f_linetable = {0x80, 0x00, 0xd8, 0x08, 0x09, 0x88, 0x41, 0x89, 0x05, 0x80, 0x41,
                                          0xd8, 0x08, 0x09, 0x88, 0x41, 0x89, 0x05, 0x80, 0x41, 0xd8, 0x0b,
                                          0x0c, 0x80, 0x48};

uint32_t next_fake_generation = 100;

// A code object image, and the code_name_event the kernel would send for it.
struct FakeCode {
    Blob code, name, qualname, file, table;
    uint32_t generation = next_fake_generation++;
    FakeCode(const CpythonLayout& l)
        : name(ascii_string(l, "f")), qualname(ascii_string(l, "Demo.f")), file(ascii_string(l, "demo.py")) {
        table.put<int64_t>(l.bytes_size, int64_t(f_linetable.size()));
        table.put_bytes(l.bytes_data, f_linetable.data(), f_linetable.size());
        code.put<uint64_t>(l.object_type, 0xc0de);  // stands for PyCode_Type
        code.put<uint64_t>(l.bpf.code_name, name.address());
        code.put<uint64_t>(l.bpf.code_filename, file.address());
        code.put<uint64_t>(l.code_qualname, qualname.address());
        code.put<uint64_t>(l.code_linetable, table.address());
        code.put<int32_t>(l.code_firstlineno, 1);
    }
    py_frame frame(int32_t instr) const { return {code.address(), instr, generation}; }
    // As named by the kernel: ASCII text, the table's first `table_bytes` bytes.
    code_name_event event(const std::string& qualified = "Demo.f", size_t table_bytes = SIZE_MAX) const {
        code_name_event e{};
        e.kind = PYAT_EVENT_CODE_NAME;
        e.pid = uint32_t(getpid());
        e.code = code.address();
        e.generation = generation;
        e.first_line = 1;
        e.name_kind = e.file_kind = 1;
        e.name_length = e.name_bytes = uint16_t(qualified.size());
        std::memcpy(e.name, qualified.data(), qualified.size());
        e.file_length = e.file_bytes = 7;
        std::memcpy(e.file, "demo.py", 7);
        e.table_size = uint32_t(f_linetable.size());
        e.table_bytes = uint32_t(std::min(table_bytes, f_linetable.size()));
        std::memcpy(e.table, f_linetable.data(), e.table_bytes);
        return e;
    }
};

}  // namespace

TEST(CodeResolver, NamesFromTheKernelsEventWithLinesFromTheLocationTable) {
    const auto& l = layout311();
    FakeCode fake(l);
    CodeResolver resolver(ProcessMemory(getpid()), l);
    resolver.learn(fake.event(), sizeof(code_name_event));
    // Offsets 2-10 are line 2, 12-20 line 3, 22-24 line 4 (from dis on python3.11).
    for (auto [offset, line] : std::vector<std::pair<int, unsigned>>{{2, 2}, {10, 2}, {12, 3}, {20, 3}, {24, 4}}) {
        ResolvedFrame r = resolver.resolve(fake.frame(offset));
        EXPECT_EQ(*r.name, "Demo.f");
        EXPECT_EQ(*r.file, "demo.py");
        EXPECT_EQ(r.first_line, 1u);
        EXPECT_EQ(r.line, line) << "offset " << offset;
    }
    // Not started yet (prev_instr before the first instruction): the def line.
    EXPECT_EQ(resolver.resolve(fake.frame(-2)).line, 1u);
    EXPECT_EQ(resolver.cached_code_objects(), 1u);
    EXPECT_EQ(resolver.unresolved(), 0u);
}

TEST(CodeResolver, KernelCopiesOfEveryStringKindAreUtf8) {
    const auto& l = layout311();
    FakeCode fake(l);
    code_name_event e = fake.event();
    // "größe" as Latin-1 code units (kind 1), a file as UCS-2 (kind 2) with a surrogateescaped byte.
    const uint8_t latin[] = {'g', 'r', 0xf6, 0xdf, 'e'};
    e.name_kind = 1;
    e.name_length = e.name_bytes = 5;
    std::memcpy(e.name, latin, 5);
    const uint16_t ucs2[] = {'c', 'a', 'f', 0xdce9, '/', 'm', '.', 'p', 'y'};
    e.file_kind = 2;
    e.file_length = 9;
    e.file_bytes = sizeof(ucs2);
    std::memcpy(e.file, ucs2, sizeof(ucs2));
    CodeResolver resolver(ProcessMemory(getpid()), l);
    resolver.learn(e, sizeof(e));
    ResolvedFrame r = resolver.resolve(fake.frame(2));
    EXPECT_EQ(*r.name, "gr\xc3\xb6\xc3\x9f" "e");
    EXPECT_EQ(*r.file, "caf\\xe9/m.py");
}

TEST(CodeResolver, ANameCutByTheKernelsBufferSaysSo) {
    const auto& l = layout311();
    FakeCode fake(l);
    code_name_event e = fake.event();
    e.name_length = 5000;  // longer than the kernel copied
    CodeResolver resolver(ProcessMemory(getpid()), l);
    resolver.learn(e, sizeof(e));
    EXPECT_EQ(*resolver.resolve(fake.frame(2)).name, "Demo.f...");
}

TEST(CodeResolver, AReusedAddressNeverHandsOutTheOldName) {
    const auto& l = layout311();
    FakeCode fake(l);
    CodeResolver resolver(ProcessMemory(getpid()), l, 0xc0de, [](uint64_t, uint32_t) { return false; });
    resolver.learn(fake.event("Demo.f"), sizeof(code_name_event));
    py_frame old_frame = fake.frame(2);
    // Freed; the same address named again (a new generation) as another function.
    fake.generation = next_fake_generation++;
    Blob other = ascii_string(l, "other");
    fake.code.put<uint64_t>(l.code_qualname, other.address());
    resolver.learn(fake.event("other"), sizeof(code_name_event));
    EXPECT_EQ(*resolver.resolve(old_frame).name, "Demo.f");   // sampled before the reuse
    EXPECT_EQ(*resolver.resolve(fake.frame(2)).name, "other"); // after it
    // A generation whose event never arrived, for an object the kernel no longer names: never the
    // name in memory now.
    ResolvedFrame lost = resolver.resolve({fake.code.address(), 2, next_fake_generation++});
    EXPECT_NE(lost.name->find("freed"), std::string::npos) << *lost.name;
    EXPECT_EQ(resolver.unresolved(), 1u);
}

TEST(CodeResolver, AMissedEventIsReadFromMemoryOnlyWhileTheKernelStillNamesIt) {
    const auto& l = layout311();
    FakeCode fake(l);
    int checks = 0;
    bool alive = true;
    CodeResolver resolver(ProcessMemory(getpid()), l, 0xc0de, [&](uint64_t code, uint32_t generation) {
        checks++;
        return alive && code == fake.code.address() && generation == fake.generation;
    });
    EXPECT_EQ(*resolver.resolve(fake.frame(12)).name, "Demo.f");
    EXPECT_EQ(resolver.resolve(fake.frame(12)).line, 3u);
    EXPECT_EQ(checks, 2);  // before and after the read, once
    // Another object of the wrong type at an address the kernel names: not a code object.
    FakeCode typed(l);
    typed.code.put<uint64_t>(l.object_type, 0xbad);
    CodeResolver strict(ProcessMemory(getpid()), l, 0xc0de, [](uint64_t, uint32_t) { return true; });
    EXPECT_NE(strict.resolve(typed.frame(2)).name->find("code object"), std::string::npos);
}

TEST(CodeResolver, ATableCutShortIsCompletedFromMemoryWhileNamed) {
    const auto& l = layout311();
    FakeCode fake(l);
    bool alive = true;
    CodeResolver resolver(ProcessMemory(getpid()), l, 0xc0de, [&](uint64_t, uint32_t) { return alive; });
    resolver.learn(fake.event("Demo.f", 5), sizeof(code_name_event));  // the first 5 bytes: offsets 0-10
    EXPECT_EQ(resolver.resolve(fake.frame(2)).line, 2u);
    EXPECT_EQ(resolver.resolve(fake.frame(24)).line, 4u);  // read the rest
    FakeCode gone(l);
    alive = false;
    CodeResolver late(ProcessMemory(getpid()), l, 0xc0de, [&](uint64_t, uint32_t) { return alive; });
    late.learn(gone.event("Demo.f", 5), sizeof(code_name_event));
    EXPECT_EQ(late.resolve(gone.frame(24)).line, 1u);  // unknown: the def line, never a guess
}

TEST(CodeResolver, StacksReadFromUserspaceAreNamedAtOnce) {
    const auto& l = layout311();
    FakeCode fake(l);
    CodeResolver resolver(ProcessMemory(getpid()), l, 0xc0de);
    uint32_t g = resolver.learn_from_memory(fake.code.address());
    ASSERT_NE(g, 0u);
    EXPECT_TRUE(g & PYAT_USERSPACE_GENERATION);
    fake.qualname = ascii_string(l, "changed");  // later changes do not matter
    EXPECT_EQ(*resolver.resolve({fake.code.address(), 12, g}).name, "Demo.f");
    EXPECT_EQ(resolver.learn_from_memory(0x10), 0u);
}

TEST(CodeResolver, UnreadableCodeObjectGivesAPlaceholderNotACrash) {
    CodeResolver resolver(ProcessMemory(getpid()), layout311());
    ResolvedFrame r = resolver.resolve({0x10, 4, 1234});
    EXPECT_NE(r.name->find("code object"), std::string::npos);
    EXPECT_NE(resolver.resolve({0x10, 4, 0}).name->find("not named"), std::string::npos);
}

TEST(CpythonLayout, TableComesFromProbesAndRefusesUnknownVersions) {
    EXPECT_NE(find_cpython_layout(3, 11), nullptr);
    EXPECT_EQ(find_cpython_layout(3, 7), nullptr);
    EXPECT_EQ(find_cpython_layout(2, 7), nullptr);
    const auto& l = layout311();
    EXPECT_STREQ(l.source, "probes/cpython/3.11.conf");
    EXPECT_EQ(l.bpf.tstate_native_thread_id, 160);
    EXPECT_EQ(l.bpf.frame_previous, 48);
    EXPECT_NE(supported_cpython_versions().find("3.11"), std::string::npos);
}

// ---- StackAggregator: kernel records to weighted, root-first stacks ----

namespace {
PythonProcess self_process(const CpythonLayout& l) {
    PythonProcess p;
    p.pid = getpid();
    p.program = "python3.11";
    p.layout = &l;
    p.version = "3.11.2";
    return p;
}

void learn(StackAggregator& agg, const FakeCode& fake) { agg.learn_code(fake.event(), sizeof(code_name_event)); }

py_sample make_sample(uint32_t kind, std::vector<py_frame> innermost_first, uint16_t flags = 0,
                      uint64_t weight_ns = 0) {
    py_sample s{};
    s.hdr.kind = kind;
    s.hdr.pid = uint32_t(getpid());
    s.hdr.tid = 77;
    s.hdr.flags = flags;
    s.hdr.weight_ns = weight_ns;
    s.hdr.nframes = uint16_t(innermost_first.size());
    for (size_t i = 0; i < innermost_first.size(); i++) s.frames[i] = innermost_first[i];
    return s;
}
}  // namespace

TEST(StackAggregator, OffCpuIntervalsBecomeTicksAtHzWithNothingLostToRounding) {
    const auto& l = layout311();
    FakeCode fake(l);
    StackAggregator agg(AggregatorConfig{Clock::wall, 100});
    agg.add_process(self_process(l));
    learn(agg, fake);
    agg.add_sample(make_sample(EVENT_OFFCPU, {fake.frame(12)}, 0, 1'500'000'000));  // 1.5 s -> 150
    for (int i = 0; i < 10; i++) agg.add_sample(make_sample(EVENT_OFFCPU, {fake.frame(12)}, 0, 6'000'000));  // 60 ms -> 6
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {fake.frame(2)}));
    auto profiles = agg.take_profiles();
    ASSERT_EQ(profiles.size(), 1u);
    EXPECT_EQ(profiles[0].total(), 157u);
}

TEST(StackAggregator, CpuClockIgnoresOffCpuRecords) {
    const auto& l = layout311();
    FakeCode fake(l);
    StackAggregator agg(AggregatorConfig{Clock::cpu, 100});
    agg.add_process(self_process(l));
    learn(agg, fake);
    agg.add_sample(make_sample(EVENT_OFFCPU, {fake.frame(12)}, 0, 1'000'000'000));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {fake.frame(2)}));
    EXPECT_EQ(agg.take_profiles()[0].total(), 1u);
}

TEST(StackAggregator, StacksAreRootFirstAndSpecialCasesAreNamed) {
    const auto& l = layout311();
    FakeCode inner(l), outer(l);
    outer.qualname = ascii_string(l, "main");
    outer.code.put<uint64_t>(l.code_qualname, outer.qualname.address());
    StackAggregator agg(AggregatorConfig{Clock::cpu, 99});
    agg.add_process(self_process(l));
    learn(agg, inner);
    agg.learn_code(outer.event("main"), sizeof(code_name_event));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {inner.frame(12), outer.frame(22)}));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {}, SAMPLE_NO_THREAD));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {}));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {inner.frame(12)}, SAMPLE_TRUNCATED));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {inner.frame(12)}));
    auto p = agg.take_profiles()[0];
    std::map<std::string, uint64_t> by_text;
    for (const auto& [stack, w] : p.stacks) {
        std::string text;
        for (const auto& f : stack.frames) text += (text.empty() ? "" : ";") + p.functions[f.function].name + ":" + std::to_string(f.line);
        by_text[text] += w;
    }
    EXPECT_EQ(by_text["main:4;Demo.f:3"], 1u);
    EXPECT_EQ(by_text["[non-Python thread]:0"], 1u);
    EXPECT_EQ(by_text["[no Python frame]:0"], 1u);
    EXPECT_EQ(by_text["[truncated: deeper frames not recorded]:0;Demo.f:3"], 1u);
    EXPECT_EQ(by_text["Demo.f:3"], 1u);
    EXPECT_EQ(p.total(), 5u);
}

TEST(StackAggregator, SamplesOfUnknownProcessesAreIgnored) {
    StackAggregator agg(AggregatorConfig{Clock::cpu, 99});
    py_sample s = make_sample(EVENT_CPU_SAMPLE, {});
    s.hdr.pid = 1;
    agg.add_sample(s);
    EXPECT_EQ(agg.samples(), 0u);
    EXPECT_TRUE(agg.take_profiles().empty());
}
