#include "writers/profile_outputs.h"

#include <fmt/format.h>

#include <functional>
#include <map>
#include <optional>

#include "writers/callgrind_writer.h"
#include "base/error.h"
#include "writers/event_log_writer.h"
#include "writers/flamegraph_writer.h"
#include "writers/folded_writer.h"
#include "writers/output_file.h"
#include "base/text_encoding.h"

namespace pyat {

namespace {
std::string processes_phrase(size_t n) { return n == 1 ? "1 process" : fmt::format("{} processes", n); }

// The files written so far in this run: none is written twice (a per-process callgrind name
// that leads, by a link made meanwhile, to another output, say).
class RunFiles {
public:
    // "" when written, else the one-line reason.
    std::string write(const std::string& path, const std::function<void(std::ostream&)>& body) {
        try {
            OutputDestination d = resolve_output(path);
            for (const auto& done : written_)
                if (done.same_file(d))
                    throw Error(fmt::format("cannot write {}: it is {}, written a moment ago by this run",
                                            printable_text(path), printable_text(done.resolved)));
            written_.push_back(write_output_file(path, body));
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    }

private:
    std::vector<OutputDestination> written_;
};
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

bool profile_is_empty(const Profile& profile) {
    return profile.total() == 0 && profile.blocking.empty() && profile.deferred_events.empty();
}

std::vector<WrittenFile> write_outputs(const Profile& profile, const std::vector<OutputSpec>& outputs) {
    std::vector<const ProcessProfile*> sampled;
    for (const auto& p : profile.processes)
        if (p.total() > 0) sampled.push_back(&p);

    RunFiles files;
    std::vector<WrittenFile> written;
    for (const auto& spec : outputs) {
        if (spec.format == OutputFormat::jsonl) {
            std::string error = files.write(spec.path, [&](std::ostream& out) { write_event_log(profile, out); });
            written.push_back({spec.path, spec.format, profile.blocking.size() + profile.deferred_events.size(),
                               "events", error});
        } else if (spec.format != OutputFormat::callgrind) {
            std::string error = files.write(spec.path, [&](std::ostream& out) {
                if (spec.format == OutputFormat::folded)
                    write_folded(profile, out);
                else
                    write_flamegraph(profile, out);
            });
            written.push_back(
                {spec.path, spec.format, profile.total(), processes_phrase(profile.processes.size()), error});
        } else if (sampled.size() > 1) {
            std::map<int, int> seen;  // a PID that exec'd another program has one profile per program
            for (const ProcessProfile* p : sampled) {
                int n = ++seen[p->pid];
                std::string path = n == 1 ? fmt::format("{}.{}", spec.path, p->pid)
                                          : fmt::format("{}.{}-{}", spec.path, p->pid, n);
                std::string error =
                    files.write(path, [&](std::ostream& out) { write_callgrind(*p, profile.run, out); });
                written.push_back({path, spec.format, p->total(), fmt::format("PID {}", p->pid), error});
            }
        } else {
            ProcessProfile empty;
            const ProcessProfile& p = sampled.size() == 1 ? *sampled.front()
                                      : profile.processes.empty() ? empty
                                                                  : profile.processes.front();
            std::string error =
                files.write(spec.path, [&](std::ostream& out) { write_callgrind(p, profile.run, out); });
            written.push_back({spec.path, spec.format, p.total(),
                               p.pid ? fmt::format("PID {}", p.pid) : "no process", error});
        }
    }
    return written;
}

OutputsWritten write_and_report_outputs(const Profile& profile, const std::vector<OutputSpec>& outputs, bool quiet) {
    if (profile_is_empty(profile)) {
        fmt::print(stderr, "pyasynctrace: {}: no file written\n",
                   profile.run.traced ? "no call was traced" : "nothing was sampled");
        return OutputsWritten::nothing_to_write;
    }
    bool failed = false;
    for (const auto& w : write_outputs(profile, outputs)) {
        std::string path = printable_text(w.path);
        if (!w.error.empty()) {
            fmt::print(stderr, "pyasynctrace: error: {}\n", w.error);
            failed = true;
        } else if (quiet) {
        } else if (w.format == OutputFormat::jsonl) {
            fmt::print(stderr, "pyasynctrace: wrote {} ({}, {} events)\n", path, format_name(w.format), w.samples);
        } else if (profile.run.traced) {
            fmt::print(stderr, "pyasynctrace: wrote {} ({}, {})\n", path, format_name(w.format), w.what);
        } else {
            fmt::print(stderr, "pyasynctrace: wrote {} ({}, {}, {} samples)\n", path, format_name(w.format), w.what,
                       w.samples);
        }
    }
    return failed ? OutputsWritten::some_failed : OutputsWritten::all;
}

}  // namespace pyat
