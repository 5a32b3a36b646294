#include "cpython/layout_check.h"

#include <fmt/format.h>

#include <cstring>

namespace pyat {

namespace {
constexpr int max_threads_checked = 64;

// _Py_DebugOffsets header: char cookie[8]; uint64_t version (PY_VERSION_HEX); uint64_t free_threaded.
constexpr char debug_cookie[8] = {'x', 'd', 'e', 'b', 'u', 'g', 'p', 'y'};
constexpr uint64_t debug_version_at = 8;
constexpr uint64_t debug_free_threaded_at = 16;

LayoutCheck mismatch(std::string problem) { return {LayoutVerdict::mismatch, std::move(problem)}; }

std::string check_debug_offsets(const ProcessMemory& memory, uint64_t runtime, const CpythonLayout& l) {
    char cookie[8];
    if (!memory.read(runtime, cookie, sizeof(cookie)))
        return "_Py_DebugOffsets at the start of _PyRuntime is unreadable";
    if (std::memcmp(cookie, debug_cookie, sizeof(cookie)) != 0)
        return "_PyRuntime does not start with the _Py_DebugOffsets cookie \"xdebugpy\"";
    uint64_t hex = memory.read_value<uint64_t>(runtime + debug_version_at).value_or(0);
    int major = int(hex >> 24) & 0xff, minor = int(hex >> 16) & 0xff;
    if (major != l.major || minor != l.minor)
        return fmt::format("_Py_DebugOffsets says CPython {}.{}, expected {}", major, minor, l.version());
    if (memory.read_value<uint64_t>(runtime + debug_free_threaded_at).value_or(1) != 0)
        return "it is a free-threaded (no-GIL) build, whose object and frame layouts are not supported";

    struct Field {
        const char* name;
        uint16_t debug_at;  // offset in _PyRuntime of the _Py_DebugOffsets entry
        uint64_t expected;
    };
    const auto& b = l.bpf;
    const uint16_t current_frame =
        b.current_frame_kind == CURRENT_FRAME_DIRECT ? b.tstate_frame : uint16_t(0xffff);
    const Field fields[] = {
        {"runtime_state.interpreters_head", l.debug_runtime_interpreters_head, b.runtime_interpreters_head},
        {"interpreter_state.threads_head", l.debug_interp_threads_head, b.interp_threads_head},
        {"thread_state.next", l.debug_tstate_next, b.tstate_next},
        {"thread_state.current_frame", l.debug_tstate_current_frame, current_frame},
        {"thread_state.native_thread_id", l.debug_tstate_native_thread_id, b.tstate_native_thread_id},
        {"interpreter_frame.previous", l.debug_frame_previous, b.frame_previous},
        {"interpreter_frame.executable", l.debug_frame_executable, b.frame_code},
        {"interpreter_frame.instr_ptr", l.debug_frame_instr_ptr, b.frame_instr},
        {"interpreter_frame.owner", l.debug_frame_owner, b.frame_owner},
        {"code_object.filename", l.debug_code_filename, b.code_filename},
        {"code_object.name", l.debug_code_name, b.code_name},
        {"code_object.co_code_adaptive", l.debug_code_adaptive, b.code_adaptive},
    };
    for (const auto& f : fields) {
        if (!f.debug_at) continue;
        auto actual = memory.read_value<uint64_t>(runtime + f.debug_at);
        if (!actual) return fmt::format("_Py_DebugOffsets.{} is unreadable", f.name);
        if (*actual != f.expected)
            return fmt::format("_Py_DebugOffsets.{} is {}, {} says {}", f.name, *actual, l.source, f.expected);
    }
    return "";
}
}  // namespace

LayoutCheck check_layout(const ProcessMemory& memory, uint64_t runtime, const CpythonLayout& l) {
    if (l.debug_runtime_interpreters_head) {
        if (std::string problem = check_debug_offsets(memory, runtime, l); !problem.empty())
            return mismatch(problem);
    }
    const auto& b = l.bpf;
    auto interp = memory.read_value<uint64_t>(runtime + b.runtime_interpreters_head);
    if (!interp) return mismatch("_PyRuntime is unreadable");
    if (!*interp) return {LayoutVerdict::not_initialized, "the interpreter is not initialized yet"};
    auto tstate = memory.read_value<uint64_t>(*interp + b.interp_threads_head);
    if (!tstate) return mismatch("the interpreter state is unreadable");
    if (!*tstate) return {LayoutVerdict::not_initialized, "the interpreter has no thread yet"};
    uint64_t t = *tstate;
    for (int i = 0; i < max_threads_checked && t; i++) {
        auto back = memory.read_value<uint64_t>(t + l.tstate_interp);
        if (!back || *back != *interp)
            return mismatch(fmt::format("thread state 0x{:x} does not point back at its interpreter 0x{:x}", t,
                                        *interp));
        t = memory.read_value<uint64_t>(t + b.tstate_next).value_or(0);
    }
    return {};
}

}  // namespace pyat
