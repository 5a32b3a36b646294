// Our options as CLI11 knows them (names, value types, help texts), the values they collect before
// validation, and how the command line names the output formats of the writers' registry.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "writers/registry.h"

namespace pyat {

// Each option's values as given (lists: -o repeats, the others are checked for repeats).
struct RawOptions {
    std::vector<std::string> pid, duration, output, format, hz, clock, group_by, block_threshold, mode, filter;
    bool quiet = false;
    bool raw_stacks = false;
    bool deferred_log = false;
    bool no_deferred_log = false;
    bool subprocesses = false;
    bool asyncio_steps = false;
};

// Defines every option on `app`, collecting into `into`, with the help layout.
void define_options(CLI::App& app, RawOptions& into);

// The whole --help text.
std::string help_text();

// "a, b or c" ("a, b and c" with `last` " and ").
std::string listing(const std::vector<std::string>& items, std::string_view last);
// The output formats' names (those that hold stacks only, with `stacks_only`).
std::vector<std::string> format_names(bool stacks_only = false);
// How a path names a format: "*.callgrind", "callgrind.out*".
std::vector<std::string> name_patterns(const OutputFormat& f);

}  // namespace pyat
