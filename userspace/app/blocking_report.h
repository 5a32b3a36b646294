// The blocking report on the terminal: slices that ran longer than the threshold without a
// switch or a return to the reactor, a few as they happen, the longest at the end.
#pragma once

#include <string>
#include <vector>

#include "app/options.h"
#include "app/runtime_set.h"
#include "app/status_line.h"
#include "profile/profile.h"

namespace pyat {

class BlockingReport {
public:
    BlockingReport(const Options& options, const std::vector<OutputSpec>& outputs, unsigned threshold_ms);

    // Slices found since the last call: the first few shown, the rest counted (on a terminal).
    void show(const std::vector<BlockingSlice>& fresh, const RunInfo& clock_offsets, StatusLine& status);
    // The end of the run: the longest slices, none, or that no process had a runtime that watches.
    void print_end(const Profile& profile, const RuntimeSet& runtimes) const;

private:
    static constexpr size_t shown_live = 5, shown_at_end = 10;
    const Options& options_;
    unsigned threshold_ms_;
    std::string event_log_phrase_ = ": add -o FILE.jsonl to log every one";
    size_t seen_ = 0;
};

}  // namespace pyat
