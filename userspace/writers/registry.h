// The output formats: one entry per writer (its name, file-name patterns, help line and write
// function). The command line's format names, suffix detection and help come from here.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "profile/profile.h"

namespace pyat {

struct OutputFormat {
    std::string_view name;                   // --format NAME
    std::string_view noun;                   // what "wrote PATH (NOUN, ...)" calls the file
    std::vector<std::string_view> suffixes;  // a path ending in one of these (any case) is this format
    std::string_view name_prefix;            // or a base name starting with this ("" for none)
    std::string_view help;                   // -o's help: what the file is, what reads it
    // Exactly one is set: the writer of a file holding the whole profile, or of a file per
    // sampled process (the path then gets ".<pid>" when several were sampled).
    void (*write_profile)(const Profile&, std::ostream&) = nullptr;
    void (*write_process)(const ProcessProfile&, const RunInfo&, std::ostream&) = nullptr;
    bool event_log = false;                  // holds the run's events (blocking, Deferreds), not stacks
};

// Every format, in the order help and messages list them.
const std::vector<OutputFormat>& output_formats();

// The format called `name`, or nullptr.
const OutputFormat* find_output_format(std::string_view name);
// The format called `name`, which must exist (a name the code itself uses).
const OutputFormat& output_format(std::string_view name);

// The format an output path's name implies, or nullptr: a base name that starts with a format's
// name_prefix, else one that ends with one of its suffixes (compared in any case, and longer than it).
const OutputFormat* format_from_name(const std::string& path);

struct OutputSpec {
    std::string path;
    const OutputFormat* format = nullptr;
};

}  // namespace pyat
