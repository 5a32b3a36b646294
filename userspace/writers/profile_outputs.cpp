#include "writers/profile_outputs.h"

#include <fmt/format.h>

#include <functional>
#include <map>
#include <optional>

#include "base/error.h"
#include "base/text_encoding.h"
#include "writers/output_file.h"

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

std::vector<OutputSpec> default_outputs(int pid) {
    return {{fmt::format("pyasynctrace.{}.callgrind", pid), &output_format("callgrind")},
            {fmt::format("pyasynctrace.{}.svg", pid), &output_format("svg")}};
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
        const OutputFormat& format = *spec.format;
        if (format.write_profile) {
            std::string error = files.write(spec.path, [&](std::ostream& out) { format.write_profile(profile, out); });
            if (format.event_log)
                written.push_back({spec.path, spec.format, profile.blocking.size() + profile.deferred_events.size(),
                                   "events", error});
            else
                written.push_back(
                    {spec.path, spec.format, profile.total(), processes_phrase(profile.processes.size()), error});
        } else if (sampled.size() > 1) {
            std::map<int, int> seen;  // a PID that exec'd another program has one profile per program
            for (const ProcessProfile* p : sampled) {
                int n = ++seen[p->pid];
                std::string path = n == 1 ? fmt::format("{}.{}", spec.path, p->pid)
                                          : fmt::format("{}.{}-{}", spec.path, p->pid, n);
                std::string error =
                    files.write(path, [&](std::ostream& out) { format.write_process(*p, profile.run, out); });
                written.push_back({path, spec.format, p->total(), fmt::format("PID {}", p->pid), error});
            }
        } else {
            ProcessProfile empty;
            const ProcessProfile& p = sampled.size() == 1 ? *sampled.front()
                                      : profile.processes.empty() ? empty
                                                                  : profile.processes.front();
            std::string error =
                files.write(spec.path, [&](std::ostream& out) { format.write_process(p, profile.run, out); });
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
        } else if (w.format->event_log) {
            fmt::print(stderr, "pyasynctrace: wrote {} ({}, {} events)\n", path, w.format->noun, w.samples);
        } else if (profile.run.traced) {
            fmt::print(stderr, "pyasynctrace: wrote {} ({}, {})\n", path, w.format->noun, w.what);
        } else {
            fmt::print(stderr, "pyasynctrace: wrote {} ({}, {}, {} samples)\n", path, w.format->noun, w.what,
                       w.samples);
        }
    }
    return failed ? OutputsWritten::some_failed : OutputsWritten::all;
}

}  // namespace pyat
