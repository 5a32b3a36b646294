#include "kernel/bpf_sampler.h"

#include "kernel/bpf_code_names.h"
#include "kernel/bpf_counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <cstring>
#include <fstream>
#include <string>

#include "base/error.h"
#include "pysample.skel.h"
#include "process/proc_maps.h"
#include "process/target_file.h"
#include "base/unique_fd.h"

namespace pyat {

namespace {

int libbpf_to_stderr(enum libbpf_print_level, const char* format, va_list args) {
    return vfprintf(stderr, format, args);
}

std::vector<int> online_cpus() {
    std::ifstream in("/sys/devices/system/cpu/online");
    std::string text;
    std::getline(in, text);
    std::vector<int> cpus;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t comma = text.find(',', pos);
        std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        size_t dash = part.find('-');
        int first = std::stoi(part.substr(0, dash));
        int last = dash == std::string::npos ? first : std::stoi(part.substr(dash + 1));
        for (int c = first; c <= last; c++) cpus.push_back(c);
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

UniqueFd open_cpu_clock(int cpu, unsigned hz) {
    perf_event_attr attr{};
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    // A fixed period of CPU time, not a frequency the kernel keeps re-estimating: every busy
    // CPU is sampled exactly every 1/hz s, so a task gets samples in proportion to its CPU time
    // however the scheduler slices it.
    attr.sample_period = 1'000'000'000ULL / hz;
    int fd = int(syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd < 0)
        throw Error(fmt::format("cannot open a cpu-clock perf event on CPU {}: {}", cpu, strerror(errno)));
    return UniqueFd(fd);
}

// Programs that cost load time or the target even unattached, loaded only when a runtime's
// configuration asks for them (SamplerConfig::on_demand).
constexpr const char* on_demand_programs[] = {"on_python_return", "on_task_step_task_first", "on_task_step_task_second",
                                             "on_task_step_wrapped"};

// libbpf reports failures as negative errno values (and in errno).
std::string libbpf_reason(long err) {
    int e = err < 0 ? int(-err) : errno;
    return strerror(e);
}

}  // namespace

void BpfSampler::Deleters::operator()(pysample_bpf* p) const { pysample_bpf__destroy(p); }
void BpfSampler::Deleters::operator()(bpf_link* p) const { bpf_link__destroy(p); }
void BpfSampler::Deleters::operator()(ring_buffer* p) const { ring_buffer__free(p); }

BpfSampler::BpfSampler(const SamplerConfig& config, EventHandler handler) : handler_(std::move(handler)) {
    // Errors are reported by us, in one line; PYASYNCTRACE_BPF_DEBUG=1 shows libbpf's own messages
    // (the verifier's log when a program is refused).
    libbpf_set_print(getenv("PYASYNCTRACE_BPF_DEBUG") ? libbpf_to_stderr : nullptr);
    skel_.reset(pysample_bpf__open());
    if (!skel_) throw Error(fmt::format("cannot open the BPF programs: {}", libbpf_reason(-errno)));
    skel_->rodata->report_exec = config.report_exec ? 1 : 0;
    skel_->rodata->wake_on_task_samples = config.wake_on_task_samples ? 1 : 0;
    skel_->rodata->block_threshold_ns = config.block_threshold_ns;
    skel_->rodata->sample_hz = config.hz;
    skel_->rodata->walk_every_park = config.walk_every_park ? 1 : 0;
    skel_->rodata->follow_forks = config.follow_forks ? 1 : 0;
    bpf_program__set_autoload(skel_->progs.on_fork, config.follow_forks);
    bpf_program__set_autoload(skel_->progs.on_sched_switch, config.off_cpu);
    for (const char* name : on_demand_programs)
        if (bpf_program* prog = program(name)) bpf_program__set_autoload(prog, config.on_demand.count(name) != 0);
    if (config.kernel_hold_map_fd >= 0)
        if (int err = bpf_map__reuse_fd(skel_->maps.kernel_holds, config.kernel_hold_map_fd))
            throw Error(fmt::format("cannot share the hold map with the BPF programs: {}", libbpf_reason(err)));
    if (int err = pysample_bpf__load(skel_.get()))
        throw Error(fmt::format("cannot load the BPF programs into the kernel: {} (needs a kernel with "
                                "BTF, BPF ring buffers and bounded loops: Linux 5.8 or later)",
                                libbpf_reason(err)));

    auto attach = [&](bpf_program* prog, const char* what) {
        bpf_link* link = bpf_program__attach(prog);
        if (!link) throw Error(fmt::format("cannot attach the {} hook: {}", what, libbpf_reason(-errno)));
        links_.emplace_back(link);
    };
    attach(skel_->progs.on_exec, "process exec");
    attach(skel_->progs.on_exit, "process exit");
    if (config.follow_forks) attach(skel_->progs.on_fork, "process fork");
    if (config.off_cpu) attach(skel_->progs.on_sched_switch, "sched_switch (off-CPU)");
    if (config.block_threshold_ns) {
        attach(skel_->progs.on_poll_enter, "syscall entry (reactor blocking)");
        attach(skel_->progs.on_poll_exit, "syscall exit (reactor blocking)");
    }

    for (int cpu : online_cpus()) {
        UniqueFd perf = open_cpu_clock(cpu, config.hz);
        bpf_link* link = bpf_program__attach_perf_event(skel_->progs.on_cpu_sample, perf.get());
        if (!link)
            throw Error(fmt::format("cannot attach the sampler to CPU {}: {}", cpu, libbpf_reason(-errno)));
        perf.release();  // the perf link owns the perf event fd from here on
        links_.emplace_back(link);
    }

    ring_.reset(ring_buffer__new(bpf_map__fd(skel_->maps.events), &BpfSampler::on_record, this, nullptr));
    if (!ring_) throw Error(fmt::format("cannot set up the BPF ring buffer: {}", libbpf_reason(-errno)));
}

BpfSampler::~BpfSampler() { unload(); }

std::vector<std::string> BpfSampler::undefined(const std::vector<std::string_view>& names) {
    std::unique_ptr<pysample_bpf, Deleters> skel(pysample_bpf__open());
    if (!skel) throw Error(fmt::format("cannot open the BPF programs: {}", libbpf_reason(-errno)));
    std::vector<std::string> out;
    for (auto name : names) {
        const std::string n(name);
        if (!bpf_object__find_program_by_name(skel->obj, n.c_str()) && !bpf_object__find_map_by_name(skel->obj, n.c_str()))
            out.push_back(n);
    }
    return out;
}

void BpfSampler::unload() {
    closer_.drain();
    hooks_.clear();  // detach first, then the buffer and the programs
    dealloc_links_.clear();
    links_.clear();
    ring_.reset();
    skel_.reset();
}

int BpfSampler::on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<BpfSampler*>(ctx);
    if (size >= sizeof(event_header)) self->handler_(data, size);
    return 0;
}

void BpfSampler::add_process(pid_t pid, const py_process& process, Sampling sampling) {
    uint32_t key = uint32_t(pid);
    uint8_t looked_at = 1;
    if (sampling == Sampling::after_looks &&
        bpf_map__update_elem(skel_->maps.processes_looked_at, &key, sizeof(key), &looked_at, sizeof(looked_at),
                             BPF_ANY))
        throw Error(fmt::format("cannot register PID {} with the BPF sampler: {}", pid, strerror(errno)));
    if (bpf_map__update_elem(skel_->maps.processes, &key, sizeof(key), &process, sizeof(process), BPF_ANY)) {
        const int error = errno;
        bpf_map__delete_elem(skel_->maps.processes_looked_at, &key, sizeof(key), 0);
        throw Error(fmt::format("cannot register PID {} with the BPF sampler: {}", pid, strerror(error)));
    }
}

void BpfSampler::sample_from_now(pid_t pid) {
    uint32_t key = uint32_t(pid);
    bpf_map__delete_elem(skel_->maps.processes_looked_at, &key, sizeof(key), 0);
}

void BpfSampler::remove_process(pid_t pid) {
    uint32_t key = uint32_t(pid);
    bpf_map__delete_elem(skel_->maps.processes, &key, sizeof(key), 0);
    bpf_map__delete_elem(skel_->maps.processes_looked_at, &key, sizeof(key), 0);
    for (const auto& name : process_maps_) delete_process_entry(name, pid);
    // Its hooks are detached in the background (BpfLinkCloser): the loop goes on meanwhile.
    for (auto it = hooks_.lower_bound(std::pair<pid_t, std::string>(pid, "")); it != hooks_.end() && it->first.first == pid;) {
        for (auto& link : it->second) closer_.close(pid, link.release());
        it = hooks_.erase(it);
    }
    if (auto it = dealloc_links_.find(pid); it != dealloc_links_.end()) {
        closer_.close(pid, it->second.release());
        dealloc_links_.erase(it);
    }
}

void BpfSampler::attach_code_dealloc(pid_t pid, const std::string& path, uint64_t offset) {
    closer_.wait_for(pid);  // a hook of the program it ran before never fires beside this one
    if (dealloc_links_.count(pid)) return;
    const TargetFile file = TargetFile::mapped(pid, path);  // the very file mapped (see TargetFile::mapped)
    bpf_link* link =
        bpf_program__attach_uprobe(skel_->progs.on_code_dealloc, false, pid, file.fd_path().c_str(), offset);
    if (!link)
        throw Error(fmt::format("cannot hook the code objects' destructor ({} at {:#x}) for PID {}: {}", path, offset,
                                pid, libbpf_reason(-errno)));
    dealloc_links_[pid].reset(link);
}

bool BpfSampler::code_still_named(pid_t pid, uint64_t code, uint32_t generation) const {
    return code_set_names(skel_->maps.code_sets, pid, code, generation);
}

uint64_t BpfSampler::code_names_lost() const { return sum_percpu_counter(skel_->maps.code_name_counts, 1); }

bpf_program* BpfSampler::program(std::string_view name) const {
    return bpf_object__find_program_by_name(skel_->obj, std::string(name).c_str());
}

bpf_map* BpfSampler::map(std::string_view name) const {
    return bpf_object__find_map_by_name(skel_->obj, std::string(name).c_str());
}

void BpfSampler::wait_for_old_hooks(pid_t pid) { closer_.wait_for(pid); }

std::string BpfSampler::set_process_entry(std::string_view name, pid_t pid, const void* value, size_t size) {
    bpf_map* m = map(name);
    if (!m) return fmt::format("the BPF programs have no map {}", name);
    process_maps_.emplace(name);
    uint32_t key = uint32_t(pid);
    if (bpf_map__update_elem(m, &key, sizeof(key), value, size, BPF_ANY)) return strerror(errno);
    return "";
}

void BpfSampler::delete_process_entry(std::string_view name, pid_t pid) {
    uint32_t key = uint32_t(pid);
    if (bpf_map* m = map(name)) bpf_map__delete_elem(m, &key, sizeof(key), 0);
}

std::string BpfSampler::attach_uprobe(std::string_view name, pid_t pid, const std::string& path,
                                      const std::string& symbol, uint64_t offset) {
    bpf_program* prog = program(name);
    if (!prog) return fmt::format("the BPF programs have no program {}", name);
    bpf_link* link = nullptr;
    if (symbol.empty()) {
        link = bpf_program__attach_uprobe(prog, false, pid, path.c_str(), offset);
    } else {
        LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = symbol.c_str());
        link = bpf_program__attach_uprobe_opts(prog, pid, path.c_str(), 0, &opts);
    }
    if (!link) return libbpf_reason(-errno);
    hooks_[{pid, std::string(name)}].emplace_back(link);
    return "";
}

std::string BpfSampler::attach_usdt(std::string_view name, pid_t pid, const std::string& path, const char* provider,
                                    const char* probe) {
    bpf_program* prog = program(name);
    if (!prog) return fmt::format("the BPF programs have no program {}", name);
    bpf_link* link = bpf_program__attach_usdt(prog, pid, path.c_str(), provider, probe, nullptr);
    if (!link) return libbpf_reason(-errno);
    hooks_[{pid, std::string(name)}].emplace_back(link);
    return "";
}

bool BpfSampler::attached(std::string_view name, pid_t pid) const {
    auto it = hooks_.find(std::pair<pid_t, std::string>(pid, name));
    return it != hooks_.end() && !it->second.empty();
}

void BpfSampler::detach(std::string_view name, pid_t pid) { hooks_.erase(std::pair<pid_t, std::string>(pid, name)); }

std::vector<std::pair<parked_key, uint64_t>> BpfSampler::parked() const {
    std::vector<std::pair<parked_key, uint64_t>> out;
    bpf_map* map = skel_->maps.parked_since;
    parked_key key{}, next{};
    parked_key* prev = nullptr;
    while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
        uint64_t since = 0;
        if (bpf_map__lookup_elem(map, &next, sizeof(next), &since, sizeof(since), 0) == 0) out.emplace_back(next, since);
        key = next;
        prev = &key;
    }
    return out;
}

int BpfSampler::epoll_fd() const { return ring_buffer__epoll_fd(ring_.get()); }

void BpfSampler::poll(int timeout_ms) {
    if (timeout_ms <= 0)
        ring_buffer__consume(ring_.get());
    else
        ring_buffer__poll(ring_.get(), timeout_ms);
}

void BpfSampler::detach() {
    links_.clear();  // samples first: none may come after the switches it is attributed by stop
    hooks_.clear();
    dealloc_links_.clear();
}

void BpfSampler::flush_off_cpu(uint64_t now_ns) {
    bpf_map* map = skel_->maps.offcpu_start;
    uint32_t key = 0, next = 0;
    uint32_t* prev = nullptr;
    std::vector<uint32_t> keys;
    while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
        keys.push_back(next);
        key = next;
        prev = &key;
    }
    auto sample = std::make_unique<py_sample>();
    for (uint32_t tid : keys) {
        if (bpf_map__lookup_elem(map, &tid, sizeof(tid), sample.get(), sizeof(*sample), 0)) continue;
        bpf_map__delete_elem(map, &tid, sizeof(tid), 0);
        sample->hdr.weight_ns = now_ns > sample->hdr.ktime_ns ? now_ns - sample->hdr.ktime_ns : 0;
        sample->hdr.ktime_ns = now_ns;
        handler_(sample.get(), sizeof(event_header) + sample->hdr.nframes * sizeof(py_frame));
    }
}

void BpfSampler::seed_off_cpu(const py_sample& sample, uint64_t since_ns) {
    auto seeded = std::make_unique<py_sample>(sample);
    seeded->hdr.kind = EVENT_OFFCPU;
    seeded->hdr.ktime_ns = since_ns;
    uint32_t tid = sample.hdr.tid;
    bpf_map__update_elem(skel_->maps.offcpu_start, &tid, sizeof(tid), seeded.get(), sizeof(*seeded), BPF_NOEXIST);
}

uint64_t BpfSampler::counter(uint32_t index) const { return sum_percpu_counter(skel_->maps.counters, index); }

uint64_t BpfSampler::lost_samples() const { return counter(COUNTER_LOST_SAMPLES); }
uint64_t BpfSampler::lost_off_cpu() const { return counter(COUNTER_LOST_OFFCPU); }
uint64_t BpfSampler::not_yet_sampled() const { return counter(COUNTER_NOT_YET_SAMPLED); }

}  // namespace pyat
