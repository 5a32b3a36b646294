// JSON lines (-o FILE.jsonl): one JSON object per event of the run, in time order: blocking slices
// (a greenlet or a Twisted reactor busy past --block-threshold) and, with --deferred-log, the
// Deferred lifecycle of Twisted processes.
#pragma once

#include <ostream>
#include <string>

#include "profile/profile.h"

namespace pyat {

void write_event_log(const Profile& profile, std::ostream& out);

// "\"text\"" with JSON escapes.
std::string json_string(const std::string& text);

// The blocking report as printed on the terminal: one paragraph per slice.
std::string format_blocking(const BlockingSlice& b, const RunInfo& run);

}  // namespace pyat
