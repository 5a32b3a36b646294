// The command line split into our options (normalised) and the command to launch, before CLI11
// parses ours: a value is never mistaken for an option, a command's own flags never parsed as ours.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pyat {

struct SplitArguments {
    std::vector<std::string> ours;     // normalised: "--name" or "--name=value", in order
    std::vector<std::string> command;  // the command to launch, verbatim
    bool separator = false;            // "--" was given
    // "record" (what runs when none is named), or "dump"/"top" when the first argument names one
    std::string subcommand = "record";
    bool help = false, version = false;
    std::optional<std::string> error;  // the first problem found
};

// An optional first word names the subcommand (record, dump, top: words, never commands to launch;
// "-- top" launches top). Our options come next; the command starts after "--" or at the first word
// that is neither an option nor an option's value. argv[0] is the program name.
SplitArguments split_arguments(int argc, const char* const* argv);

}  // namespace pyat
