// Coroutine objects and their frames laid out at one version's offsets in this test's memory,
// suspended at an await, at a plain yield, running or not started (asyncio_fakes.h).
#pragma once

#include <deque>

#include "unit/asyncio/asyncio_fakes.h"

namespace pyat::fakes {

enum class CoroState { at_await, at_yield, running, created };

struct FakeCoroutine {
    uint64_t gen = 0;
    uint64_t frame = 0;
    Blob* gen_blob = nullptr;
    Blob* frame_blob = nullptr;  // before 3.11 (else the frame is inside gen_blob)
    size_t stack_at = 0;         // before 3.11: the value stack's offset in frame_blob (inside the
                                 // frame, as CPython's f_valuestack is: the reader insists)
    Blob* bytecode = nullptr;    // before 3.11: co_code
    FakeCode* code = nullptr;
};

struct FakeCoroutines {
    static constexpr int32_t instr_offset = 10;  // the current instruction, in bytes
    AsyncioFakes& f;
    std::deque<FakeCode> codes;
    std::deque<FakeCoroutine> coros;
    uint64_t coroutine_type;

    explicit FakeCoroutines(AsyncioFakes& fakes) : f(fakes), coroutine_type(fakes.type(fakes.aio.coroutine_type)) {}

    // A coroutine whose value stack holds [x, y, top] with `top` the awaited object when at_await.
    FakeCoroutine& make(CoroState state, uint64_t top, const std::string& qualname = "coro_fn") {
        const auto& py = f.py;
        const auto& a = f.aio;
        const auto& b = py.bpf;
        codes.emplace_back(py);
        FakeCode& code = codes.back();
        coros.emplace_back();
        FakeCoroutine& c = coros.back();
        c.code = &code;
        c.gen_blob = &f.object(coroutine_type, 1024);
        c.gen = c.gen_blob->address();
        c.gen_blob->put<uint64_t>(a.gen_qualname, f.str(qualname));
        uint64_t code_word = code.code.address() | (b.code_ptr_tag_mask ? 1 : 0);  // 3.14: a tagged ref
        if (py.gen_frame_embedded) {
            c.frame = c.gen + py.gen_frame;
            size_t fr = py.gen_frame;
            Blob& g = *c.gen_blob;
            g.put<uint64_t>(fr + b.frame_code, code_word);
            g.put<uint64_t>(fr + b.frame_instr, code.code.address() + b.code_adaptive + instr_offset);
            int8_t s = state == CoroState::running ? 0
                       : state == CoroState::created ? int8_t(py.gen_state_created)
                       : state == CoroState::at_yield && a.awaited_rule != AwaitedRule::resume_arg
                           ? a.state_suspended
                           : a.state_suspended_yield_from;
            g.put<int8_t>(py.gen_frame_state, s);
            // The code unit after prev_instr: RESUME with oparg 3 (await) or 1 (yield).
            set_next_unit(c, a.resume_opcode ? a.resume_opcode : 151, state == CoroState::at_await ? 3 : 1);
            uint64_t slots[3] = {0x1111, 0x2222, top};
            for (int i = 0; i < 3; i++)
                g.put<uint64_t>(fr + py.frame_localsplus + 8 * i, slots[i] | (i == 2 ? a.stack_tag_mask & 1 : 0));
            if (a.frame_stack == FrameStack::stackpointer)
                g.put<uint64_t>(fr + a.frame_stack_at, c.frame + py.frame_localsplus + 24);
            else
                g.put<int32_t>(fr + a.frame_stack_at, 3);
        } else {
            c.frame_blob = &f.blob();
            c.frame = c.frame_blob->address();
            c.gen_blob->put<uint64_t>(py.gen_frame, c.frame);
            Blob& fb = *c.frame_blob;
            fb.put<uint64_t>(b.frame_code, code_word);
            int32_t lasti = state == CoroState::created ? -1 : instr_offset / int32_t(b.lasti_scale);
            fb.put<int32_t>(b.frame_instr, lasti);
            c.stack_at = fb.bytes.size() - 64;
            const uint64_t stack = c.frame + c.stack_at;
            uint64_t slots[3] = {0x1111, 0x2222, top};
            for (int i = 0; i < 3; i++) fb.put<uint64_t>(c.stack_at + 8 * i, slots[i]);
            if (a.frame_stack == FrameStack::stacktop_pointer) {
                fb.put<uint64_t>(a.frame_stack_at, state == CoroState::running ? 0 : stack + 24);
            } else {
                fb.put<uint64_t>(a.frame_stack_at, stack);
                fb.put<int32_t>(a.frame_stackdepth, 3);
                fb.put<int8_t>(a.frame_state, state == CoroState::running ? 0
                                              : state == CoroState::created ? -2 : a.state_suspended);
            }
            // co_code: the instruction after the current one is YIELD_FROM at an await.
            c.bytecode = &f.blob();
            c.bytecode->put<int64_t>(py.bytes_size, 64);
            c.bytecode->bytes[py.bytes_data + instr_offset + 2] = state == CoroState::at_await ? a.yield_from_opcode : 86;
            code.code.put<uint64_t>(a.code_code, c.bytecode->address());
        }
        return c;
    }

    void set_next_unit(FakeCoroutine& c, uint8_t op, uint8_t arg) {
        size_t at = f.py.bpf.code_adaptive + instr_offset + 2;
        c.code->code.bytes[at] = op;
        c.code->code.bytes[at + 1] = arg;
    }

    // Replaces the top of the value stack (the awaited object).
    void set_top(FakeCoroutine& c, uint64_t top) {
        if (f.py.gen_frame_embedded)
            c.gen_blob->put<uint64_t>(f.py.gen_frame + f.py.frame_localsplus + 16, top | (f.aio.stack_tag_mask & 1));
        else
            c.frame_blob->put<uint64_t>(c.stack_at + 16, top);
    }

    // A stack nobody would have: a depth of 2^20 slots, a top before the frame's start.
    void break_stack(FakeCoroutine& c) {
        const auto& a = f.aio;
        if (f.py.gen_frame_embedded) {
            size_t fr = f.py.gen_frame;
            if (a.frame_stack == FrameStack::stackpointer)
                c.gen_blob->put<uint64_t>(fr + a.frame_stack_at, c.frame - 64);
            else
                c.gen_blob->put<int32_t>(fr + a.frame_stack_at, 1 << 20);
        } else if (a.frame_stack == FrameStack::stacktop_pointer) {
            c.frame_blob->put<uint64_t>(a.frame_stack_at, 8);
        } else {
            c.frame_blob->put<int32_t>(a.frame_stackdepth, 1 << 20);
        }
    }
};

}  // namespace pyat::fakes
