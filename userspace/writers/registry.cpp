#include "writers/registry.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "writers/callgrind_writer.h"
#include "writers/event_log_writer.h"
#include "writers/flamegraph_writer.h"
#include "writers/folded_writer.h"

namespace pyat {

const std::vector<OutputFormat>& output_formats() {
    static const std::vector<OutputFormat> formats = {
        {.name = "callgrind", .noun = "callgrind", .suffixes = {".callgrind"}, .name_prefix = "callgrind.out",
         .help = "callgrind (kcachegrind, callgrind_annotate)", .write_process = write_callgrind},
        {.name = "folded", .noun = "folded stacks", .suffixes = {".folded"},
         .help = "folded stacks (flamegraph.pl, speedscope)", .write_profile = write_folded},
        {.name = "svg", .noun = "flame graph", .suffixes = {".svg"}, .help = "interactive flame graph",
         .write_profile = write_flamegraph},
        {.name = "jsonl", .noun = "event log", .suffixes = {".jsonl"},
         .help = "event log, one JSON object per line (blocking slices; the Deferred lifecycle of Twisted "
                 "processes, see --deferred-log)",
         .write_profile = write_event_log, .event_log = true},
    };
    return formats;
}

const OutputFormat* find_output_format(std::string_view name) {
    for (const auto& f : output_formats())
        if (f.name == name) return &f;
    return nullptr;
}

const OutputFormat& output_format(std::string_view name) {
    const OutputFormat* f = find_output_format(name);
    if (!f) throw std::logic_error("no output format named " + std::string(name));
    return *f;
}

const OutputFormat* format_from_name(const std::string& path) {
    auto slash = path.rfind('/');
    std::string lower = slash == std::string::npos ? path : path.substr(slash + 1);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const auto& f : output_formats())
        if (!f.name_prefix.empty() && lower.starts_with(f.name_prefix)) return &f;
    for (const auto& f : output_formats())
        for (std::string_view suffix : f.suffixes)
            if (lower.size() > suffix.size() && lower.ends_with(suffix)) return &f;
    return nullptr;
}

}  // namespace pyat
