// CodeResolver and StackAggregator against code objects laid out in this test's own memory with the 3.11 layout:
// names, files and lines are read through process_vm_readv exactly as from a target.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <vector>

#include "code_resolver.h"
#include "cpython_layout.h"
#include "stack_aggregator.h"

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

struct FakeCode {
    Blob code, name, qualname, file, table;
    FakeCode(const CpythonLayout& l)
        : name(ascii_string(l, "f")), qualname(ascii_string(l, "Demo.f")), file(ascii_string(l, "demo.py")) {
        table.put<int64_t>(l.bytes_size, int64_t(f_linetable.size()));
        table.put_bytes(l.bytes_data, f_linetable.data(), f_linetable.size());
        code.put<uint64_t>(l.bpf.code_name, name.address());
        code.put<uint64_t>(l.bpf.code_filename, file.address());
        code.put<uint64_t>(l.code_qualname, qualname.address());
        code.put<uint64_t>(l.code_linetable, table.address());
        code.put<int32_t>(l.code_firstlineno, 1);
    }
    py_frame frame(int32_t instr) const {
        return {code.address(), instr, code_tag(name.address(), file.address())};
    }
};

}  // namespace

TEST(CodeResolver, ReadsQualifiedNameFileAndLineFromTheLocationTable) {
    const auto& l = layout311();
    FakeCode fake(l);
    CodeResolver resolver(ProcessMemory(getpid()), l);
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
}

TEST(CodeResolver, NonAsciiNamesAreConvertedToUtf8) {
    const auto& l = layout311();
    FakeCode fake(l);
    // "größe" as a compact latin-1 (kind 1, not ascii) string.
    Blob latin;
    const uint8_t chars[] = {'g', 'r', 0xf6, 0xdf, 'e'};
    latin.put<int64_t>(l.unicode_length, 5);
    latin.put<uint32_t>(l.unicode_state, (1u << 2) | (1u << 5));
    latin.put_bytes(l.unicode_compact_data, chars, sizeof(chars));
    fake.code.put<uint64_t>(l.code_qualname, latin.address());
    CodeResolver resolver(ProcessMemory(getpid()), l);
    EXPECT_EQ(*resolver.resolve(fake.frame(2)).name, "gr\xc3\xb6\xc3\x9f" "e");
}

TEST(CodeResolver, AReusedAddressNeverHandsOutTheOldName) {
    const auto& l = layout311();
    FakeCode fake(l);
    CodeResolver resolver(ProcessMemory(getpid()), l);
    py_frame recorded = fake.frame(2);
    // The code object was freed and its memory now holds another function before we resolve.
    Blob other_name = ascii_string(l, "other");
    fake.code.put<uint64_t>(l.bpf.code_name, other_name.address());
    ResolvedFrame r = resolver.resolve(recorded);
    EXPECT_NE(r.name->find("gone"), std::string::npos) << *r.name;
    EXPECT_NE(*r.name, "Demo.f");
    EXPECT_NE(*r.name, "other");
    // The new function, sampled with its own fingerprint, resolves to its own name.
    ResolvedFrame fresh = resolver.resolve({fake.code.address(), 2, code_tag(other_name.address(), fake.file.address())});
    EXPECT_EQ(*fresh.name, "Demo.f");  // co_qualname still says Demo.f in this image
}

TEST(CodeResolver, UnreadableCodeObjectGivesAPlaceholderNotACrash) {
    CodeResolver resolver(ProcessMemory(getpid()), layout311());
    ResolvedFrame r = resolver.resolve({0x10, 4, 1234});
    EXPECT_NE(r.name->find("code object"), std::string::npos);
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
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {inner.frame(12), outer.frame(22)}));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {}, SAMPLE_NO_THREAD));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {}));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {inner.frame(12)}, SAMPLE_TRUNCATED));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {inner.frame(12)}));
    auto p = agg.take_profiles()[0];
    std::map<std::string, uint64_t> by_text;
    for (const auto& [stack, w] : p.stacks) {
        std::string text;
        for (const auto& f : stack) text += (text.empty() ? "" : ";") + p.functions[f.function].name + ":" + std::to_string(f.line);
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
