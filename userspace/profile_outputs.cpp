#include "profile_outputs.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>

#include "callgrind_writer.h"
#include "error.h"
#include "event_log_writer.h"
#include "flamegraph_writer.h"
#include "folded_writer.h"

namespace pyat {

namespace {
void write_file(const std::string& path, const std::function<void(std::ostream&)>& body) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("cannot write {}: {}", path, strerror(errno)));
    body(out);
    out.flush();
    if (!out) throw Error(fmt::format("error writing {}: {}", path, strerror(errno)));
}

std::string processes_phrase(size_t n) { return n == 1 ? "1 process" : fmt::format("{} processes", n); }
}  // namespace

const char* format_name(OutputFormat f) {
    switch (f) {
        case OutputFormat::callgrind: return "callgrind";
        case OutputFormat::folded: return "folded stacks";
        case OutputFormat::svg: return "flame graph";
        case OutputFormat::jsonl: return "event log";
    }
    return "?";
}

std::vector<OutputSpec> default_outputs(int pid) {
    return {{fmt::format("pyasynctrace.{}.callgrind", pid), OutputFormat::callgrind},
            {fmt::format("pyasynctrace.{}.svg", pid), OutputFormat::svg}};
}

std::vector<WrittenFile> write_outputs(const Profile& profile, const std::vector<OutputSpec>& outputs) {
    std::vector<const ProcessProfile*> sampled;
    for (const auto& p : profile.processes)
        if (p.total() > 0) sampled.push_back(&p);

    std::vector<WrittenFile> written;
    for (const auto& spec : outputs) {
        if (spec.format == OutputFormat::jsonl) {
            write_file(spec.path, [&](std::ostream& out) { write_event_log(profile, out); });
            written.push_back({spec.path, spec.format, profile.blocking.size() + profile.deferred_events.size(), "events"});
        } else if (spec.format != OutputFormat::callgrind) {
            write_file(spec.path, [&](std::ostream& out) {
                if (spec.format == OutputFormat::folded)
                    write_folded(profile, out);
                else
                    write_flamegraph(profile, out);
            });
            written.push_back({spec.path, spec.format, profile.total(), processes_phrase(profile.processes.size())});
        } else if (sampled.size() > 1) {
            for (const ProcessProfile* p : sampled) {
                std::string path = fmt::format("{}.{}", spec.path, p->pid);
                write_file(path, [&](std::ostream& out) { write_callgrind(*p, profile.run, out); });
                written.push_back({path, spec.format, p->total(), fmt::format("PID {}", p->pid)});
            }
        } else {
            ProcessProfile empty;
            const ProcessProfile& p = sampled.size() == 1 ? *sampled.front()
                                      : profile.processes.empty() ? empty
                                                                  : profile.processes.front();
            write_file(spec.path, [&](std::ostream& out) { write_callgrind(p, profile.run, out); });
            written.push_back({spec.path, spec.format, p.total(), p.pid ? fmt::format("PID {}", p.pid) : "no process"});
        }
    }
    return written;
}

}  // namespace pyat
