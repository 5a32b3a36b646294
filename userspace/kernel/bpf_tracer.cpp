#include "kernel/bpf_tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kernel/bpf_code_names.h"
#include "kernel/bpf_counters.h"
#include "base/error.h"
#include "abi/trace.h"
#include "pytrace.skel.h"
#include "process/target_file.h"

namespace pyat {

namespace {
std::string reason(long err) { return strerror(err < 0 ? int(-err) : errno); }
}  // namespace

void BpfTracer::Deleters::operator()(pytrace_bpf* p) const { pytrace_bpf__destroy(p); }
void BpfTracer::Deleters::operator()(bpf_link* p) const { bpf_link__destroy(p); }
void BpfTracer::Deleters::operator()(ring_buffer* p) const { ring_buffer__free(p); }

BpfTracer::BpfTracer(const TracerConfig& config, EventHandler handler)
    : handler_(std::move(handler)), pid_(config.pid) {
    skel_.reset(pytrace_bpf__open());
    if (!skel_) throw Error(fmt::format("cannot open the BPF trace programs: {}", reason(-errno)));
    skel_->rodata->traced_tgid = uint32_t(config.pid);
    skel_->rodata->yield_opcode = config.yield_opcode;
    bpf_program__set_autoload(skel_->progs.on_function_entry, !config.return_only);
    bpf_program__set_autoload(skel_->progs.on_function_return, !config.return_only);
    bpf_program__set_autoload(skel_->progs.on_return_only, config.return_only);
    bpf_program__set_autoload(skel_->progs.on_gc_start, config.gc && !config.return_only);
    bpf_program__set_autoload(skel_->progs.on_gc_start_frames, config.gc && config.return_only);
    bpf_program__set_autoload(skel_->progs.on_gc_done, config.gc);
    if (int err = pytrace_bpf__load(skel_.get()))
        throw Error(fmt::format("cannot load the BPF trace programs into the kernel: {}", reason(err)));
    if (config.return_only && !config.process) throw Error("return-only tracing needs the interpreter's layout");
    if (config.process) {
        uint32_t zero = 0;
        if (bpf_map__update_elem(skel_->maps.trace_process, &zero, sizeof(zero), &*config.process,
                                 sizeof(*config.process), BPF_ANY))
            throw Error(fmt::format("cannot register PID {} with the BPF tracer: {}", config.pid, strerror(errno)));
    }

    ring_.reset(ring_buffer__new(bpf_map__fd(skel_->maps.trace_events), &BpfTracer::on_record, this, nullptr));
    if (!ring_) throw Error(fmt::format("cannot set up the BPF ring buffer: {}", reason(-errno)));

    // The very file the process maps (even deleted on disk), or the program about to be launched;
    // libbpf and the kernel are given it as /proc/self/fd/N, never a name that can change meanwhile.
    const TargetFile target = config.binary_is_mapped ? TargetFile::mapped(config.pid, config.binary)
                                                      : TargetFile::at(config.binary);
    const std::string file = target.fd_path();
    auto attach = [&](bpf_program* prog, const char* probe) {
        bpf_link* link = bpf_program__attach_usdt(prog, config.pid, file.c_str(), "python", probe, nullptr);
        if (!link)
            throw Error(fmt::format("cannot attach to the {} probe of {} for PID {}: {}", probe, config.binary,
                                    config.pid, reason(-errno)));
        links_.emplace_back(link);
    };
    if (config.return_only) {
        attach(skel_->progs.on_return_only, "function__return");
    } else {
        attach(skel_->progs.on_function_entry, "function__entry");
        attach(skel_->progs.on_function_return, "function__return");
    }
    if (config.gc) {
        attach(config.return_only ? skel_->progs.on_gc_start_frames : skel_->progs.on_gc_start, "gc__start");
        attach(skel_->progs.on_gc_done, "gc__done");
    }
}

BpfTracer::~BpfTracer() { unload(); }

void BpfTracer::unload() {
    links_.clear();
    ring_.reset();
    skel_.reset();
}

int BpfTracer::on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<BpfTracer*>(ctx);
    if (size >= sizeof(call_event)) self->handler_(data, size);
    return 0;
}

void BpfTracer::set_twisted(const trace_twisted& twisted) {
    uint32_t zero = 0;
    if (bpf_map__update_elem(skel_->maps.trace_twisted, &zero, sizeof(zero), &twisted, sizeof(twisted), BPF_ANY))
        throw Error(fmt::format("cannot register Twisted with the BPF tracer: {}", strerror(errno)));
}

void BpfTracer::attach_greenlet(const std::string& path, const char* symbol, const greenlet_layout& layout) {
    uint32_t zero = 0;
    if (bpf_map__update_elem(skel_->maps.trace_greenlet, &zero, sizeof(zero), &layout, sizeof(layout), BPF_ANY))
        throw Error(fmt::format("cannot register greenlet with the BPF tracer: {}", strerror(errno)));
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = symbol);
    const TargetFile module = TargetFile::mapped(pid_, path);
    bpf_link* link =
        bpf_program__attach_uprobe_opts(skel_->progs.on_trace_greenlet_switch, pid_, module.fd_path().c_str(), 0, &opts);
    if (!link)
        throw Error(fmt::format("cannot hook greenlet's switch ({} in {}) for PID {}: {}", symbol, path, pid_,
                                reason(-errno)));
    links_.emplace_back(link);
}

void BpfTracer::attach_code_dealloc(const std::string& path, uint64_t offset) {
    const TargetFile file = TargetFile::mapped(pid_, path);
    bpf_link* link =
        bpf_program__attach_uprobe(skel_->progs.on_code_dealloc, false, pid_, file.fd_path().c_str(), offset);
    if (!link)
        throw Error(fmt::format("cannot hook the code objects' destructor ({} at {:#x}) for PID {}: {}", path, offset,
                                pid_, reason(-errno)));
    links_.emplace_back(link);
}

bool BpfTracer::code_still_named(uint64_t code, uint32_t generation) const {
    return code_set_names(skel_->maps.code_sets, pid_, code, generation);
}

int BpfTracer::epoll_fd() const { return ring_buffer__epoll_fd(ring_.get()); }
void BpfTracer::poll(int timeout_ms) {
    // The programs rarely wake the reader (see TRACE_WAKEUP_BYTES): consume whatever is there.
    if (timeout_ms <= 0)
        ring_buffer__consume(ring_.get());
    else
        ring_buffer__poll(ring_.get(), timeout_ms);
}
void BpfTracer::detach() { links_.clear(); }

uint64_t BpfTracer::counter(uint32_t index) const { return sum_percpu_counter(skel_->maps.trace_counters, index); }

uint64_t BpfTracer::probe_hits() const { return counter(TRACE_COUNTER_PROBES); }
uint64_t BpfTracer::lost() const { return counter(TRACE_COUNTER_LOST); }

}  // namespace pyat
