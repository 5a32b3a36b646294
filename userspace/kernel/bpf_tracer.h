// The kernel side of --mode trace: the pytrace BPF programs attached to one process's CPython
// function probes (USDT), and the ring buffer their events arrive through. Every BPF object, link
// and buffer is owned here and released by the destructor.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abi/cpython.h"
#include "abi/trace.h"
#include "greenlet/greenlet_abi.h"
#include "twisted/twisted_abi.h"

struct pytrace_bpf;
struct bpf_link;
struct ring_buffer;

namespace pyat {

struct TracerConfig {
    pid_t pid = 0;
    std::string binary;          // the ELF holding the python probes, as the process maps it
    bool binary_is_mapped = true;  // false: `binary` is the program to launch, as given (not run yet)
    bool return_only = false;    // CPython 3.11: calls read at function__return (needs `process`)
    std::optional<py_process> process;  // the interpreter, when it is CPython (always in return-only mode)
    uint8_t yield_opcode = 0;    // return-only: YIELD_VALUE of that interpreter
    bool gc = false;             // the binary has gc__start / gc__done
};

class BpfTracer {
public:
    // Called for every ring-buffer record (a call_event, trace_name or trace_return).
    using EventHandler = std::function<void(const void* data, size_t size)>;

    BpfTracer(const TracerConfig& config, EventHandler handler);  // throws pyat::Error
    ~BpfTracer();
    BpfTracer(const BpfTracer&) = delete;
    BpfTracer& operator=(const BpfTracer&) = delete;

    // Return-only mode: the process has imported Twisted: @inlineCallbacks calls are counted as
    // calls of the decorated functions.
    void set_twisted(const trace_twisted& twisted);

    // Entry/return mode: hooks greenlet's switch `symbol` in the extension at `path` (as the process
    // maps it: opened with TargetFile::mapped), so that each greenlet keeps its own shadow stack.
    // Throws pyat::Error.
    void attach_greenlet(const std::string& path, const char* symbol, const greenlet_layout& layout);

    // Hooks the code type's destructor (see BpfSampler::attach_code_dealloc); with entry/return
    // probes, a freed code object's names are sent again when their addresses show up next.
    void attach_code_dealloc(const std::string& path, uint64_t offset);
    bool code_still_named(uint64_t code, uint32_t generation) const;

    int epoll_fd() const;
    void poll(int timeout_ms);
    void detach();
    // Frees every BPF object (the counters are gone too): only the destructor may follow.
    void unload();
    uint64_t probe_hits() const;
    uint64_t lost() const;

private:
    uint64_t counter(uint32_t index) const;
    static int on_record(void* ctx, void* data, size_t size);
    struct Deleters {
        void operator()(pytrace_bpf* p) const;
        void operator()(bpf_link* p) const;
        void operator()(ring_buffer* p) const;
    };
    EventHandler handler_;
    std::unique_ptr<pytrace_bpf, Deleters> skel_;
    std::vector<std::unique_ptr<bpf_link, Deleters>> links_;
    std::unique_ptr<ring_buffer, Deleters> ring_;
    pid_t pid_ = 0;
};

}  // namespace pyat
