// The command line: our options split from a command (argument_split), collected by CLI11
// (option_definitions, help_text) and validated here into Options.
#pragma once

#include <optional>
#include <string>

#include "app/options.h"

namespace pyat {

struct CliResult {
    std::optional<Options> options;  // empty: print `message` and exit with `exit_code`
    int exit_code = 0;               // 0 with --help/--version (message to stdout), 2 on errors
    std::string message;             // on errors a single line "pyasynctrace: error: ..."
};

// argv[0] is the program name. Never throws on bad input: errors come back in the result.
CliResult parse_command_line(int argc, const char* const* argv);

}  // namespace pyat
