// Writing a finished Profile to the files the user asked for, and saying what went where.
#pragma once

#include <string>
#include <vector>

#include "profile/profile.h"
#include "writers/registry.h"

namespace pyat {

// pyasynctrace.<pid>.callgrind plus pyasynctrace.<pid>.svg beside it.
std::vector<OutputSpec> default_outputs(int pid);

struct WrittenFile {
    std::string path;
    const OutputFormat* format;
    uint64_t samples;      // samples (ns in --mode trace), or events for the event log
    std::string what;      // e.g. "PID 4242" or "3 processes"
    std::string error;     // not written: "cannot write PATH: reason" (one line)
};

// Writes every output, each through write_output_file. A per-process format (callgrind) holds one
// process per file: when the profile has several processes with samples, each goes to "<path>.<pid>". A file that
// cannot be written (or would be a file already written in this run) is reported in its entry
// and the others are still written.
std::vector<WrittenFile> write_outputs(const Profile& profile, const std::vector<OutputSpec>& outputs);

// Nothing sampled, no call traced, no event logged: there is nothing to write.
bool profile_is_empty(const Profile& profile);

enum class OutputsWritten { all, nothing_to_write, some_failed };

// The end of a run: writes the outputs unless the profile is empty, and says so on stderr: one
// "wrote" line per file (not when quiet), one error line per file that could not be written, or
// one line saying that nothing was written (even when quiet: the files asked for are not there).
OutputsWritten write_and_report_outputs(const Profile& profile, const std::vector<OutputSpec>& outputs, bool quiet);

}  // namespace pyat
