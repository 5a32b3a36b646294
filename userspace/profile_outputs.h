// Writing a finished Profile to the files the user asked for.
#pragma once

#include <string>
#include <vector>

#include "options.h"
#include "profile.h"

namespace pyat {

// pyasynctrace.<pid>.callgrind plus pyasynctrace.<pid>.svg beside it.
std::vector<OutputSpec> default_outputs(int pid);

struct WrittenFile {
    std::string path;
    OutputFormat format;
    uint64_t samples;
    std::string what;  // e.g. "PID 4242" or "3 processes"
};

// Writes every output. Callgrind holds one process per file: when the profile has several
// processes with samples, each goes to "<path>.<pid>". Throws pyat::Error if a file can't be written.
std::vector<WrittenFile> write_outputs(const Profile& profile, const std::vector<OutputSpec>& outputs);

const char* format_name(OutputFormat f);

}  // namespace pyat
