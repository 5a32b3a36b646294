// CodeResolver against code objects laid out in this test's own memory with the 3.11 layout (fake_code.h):
// names, files and lines are read through process_vm_readv exactly as from a target.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <vector>

#include "cpython/code_resolver.h"
#include "cpython/cpython_layout.h"
#include "cpython/python_stack_reader.h"
#include "unit/cpython/fake_code.h"

using namespace pyat;
using namespace pyat::fakes;

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

// 3.13's _Py_InitCleanup: name, qualified name and file are one str object, first line 0.
TEST(CodeResolver, TheInitCleanupShimIsPlumbingAndLookalikesAreNot) {
    const auto& l = layout311();
    FakeCode shim(l), lookalike(l), real(l);
    Blob init = ascii_string(l, "__init__"), init_too = ascii_string(l, "__init__");
    for (FakeCode* c : {&shim, &lookalike}) {
        c->code.put<uint64_t>(l.bpf.code_name, init.address());
        c->code.put<uint64_t>(l.code_qualname, init.address());
        c->code.put<int32_t>(l.code_firstlineno, 0);
    }
    shim.code.put<uint64_t>(l.bpf.code_filename, init.address());
    lookalike.code.put<uint64_t>(l.bpf.code_filename, init_too.address());  // same text, another object
    CodeResolver resolver(ProcessMemory(getpid()), l, 0xc0de);
    EXPECT_TRUE(resolver.interpreter_shim(shim.code.address()));
    EXPECT_FALSE(resolver.interpreter_shim(lookalike.code.address()));
    EXPECT_FALSE(resolver.interpreter_shim(real.code.address()));
    shim.code.put<int32_t>(l.code_firstlineno, 1);  // a name that is its file, at a real line
    EXPECT_FALSE(resolver.interpreter_shim(shim.code.address()));
    EXPECT_FALSE(resolver.interpreter_shim(0x10));  // unreadable: not known to be plumbing
}

// A stack read from userspace leaves the shim out, as the kernel's walk does: caller -> __init__.
TEST(CodeResolver, StacksReadFromUserspaceLeaveTheShimOut) {
    const auto& l = layout311();
    FakeCode caller(l), shim(l), init(l);
    Blob init_name = ascii_string(l, "__init__");
    shim.code.put<uint64_t>(l.bpf.code_name, init_name.address());
    shim.code.put<uint64_t>(l.bpf.code_filename, init_name.address());
    shim.code.put<int32_t>(l.code_firstlineno, 0);
    init.qualname = ascii_string(l, "Widget.__init__");
    init.code.put<uint64_t>(l.code_qualname, init.qualname.address());
    Blob outer, middle, inner;  // frames, innermost = inner
    outer.put<uint64_t>(l.bpf.frame_code, caller.code.address());
    middle.put<uint64_t>(l.bpf.frame_code, shim.code.address());
    middle.put<uint64_t>(l.bpf.frame_previous, outer.address());
    inner.put<uint64_t>(l.bpf.frame_code, init.code.address());
    inner.put<uint64_t>(l.bpf.frame_previous, middle.address());
    CodeResolver resolver(ProcessMemory(getpid()), l, 0xc0de);
    py_sample s{};
    read_stack_from(ProcessMemory(getpid()), l.bpf, inner.address(), s, resolver);
    ASSERT_EQ(s.hdr.nframes, 2);
    EXPECT_EQ(*resolver.resolve(s.frames[0]).name, "Widget.__init__");
    EXPECT_EQ(*resolver.resolve(s.frames[1]).name, "Demo.f");
    EXPECT_EQ(s.hdr.base_frame, outer.address());
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
