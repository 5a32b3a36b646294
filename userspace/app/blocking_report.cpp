#include "app/blocking_report.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "base/text_encoding.h"
#include "writers/event_log_writer.h"

namespace pyat {

BlockingReport::BlockingReport(const Options& options, const std::vector<OutputSpec>& outputs, unsigned threshold_ms)
    : options_(options), threshold_ms_(threshold_ms) {
    for (const auto& out : outputs)
        if (out.format->event_log) {
            event_log_phrase_ = fmt::format(", every one in {}", printable_text(out.path));
            break;
        }
}

void BlockingReport::show(const std::vector<BlockingSlice>& fresh, const RunInfo& clock_offsets, StatusLine& status) {
    for (const auto& b : fresh) {
        if (options_.quiet || !isatty(STDERR_FILENO)) continue;
        if (++seen_ <= shown_live)
            status.note(fmt::format("pyasynctrace: blocked for longer than {} ms:\n{}", threshold_ms_,
                                    format_blocking(b, clock_offsets)));
        else if (seen_ == shown_live + 1)
            status.note(fmt::format("pyasynctrace: more slices longer than {} ms: not shown as they happen; "
                                    "the longest {} are listed at the end{}",
                                    threshold_ms_, shown_at_end, event_log_phrase_));
    }
}

void BlockingReport::print_end(const Profile& profile, const RuntimeSet& runtimes) const {
    const std::string watched = runtimes.blocking_ends();
    const bool blocking_watched = threshold_ms_ && !watched.empty();
    if (!options_.quiet && options_.block_threshold_ms && !blocking_watched)
        fmt::print(stderr, "pyasynctrace: no traced process imported {}: no blocking report\n", runtimes.names());
    if (options_.quiet || !blocking_watched) return;
    const size_t n = profile.blocking.size();
    if (n == 0) {
        fmt::print(stderr, "pyasynctrace: nothing ran longer than {} ms without {}\n", threshold_ms_, watched);
        return;
    }
    std::vector<const BlockingSlice*> longest;
    for (const auto& b : profile.blocking) longest.push_back(&b);
    std::stable_sort(longest.begin(), longest.end(),
                     [](const BlockingSlice* a, const BlockingSlice* b) { return a->duration_ns > b->duration_ns; });
    const size_t shown = std::min(n, shown_at_end);
    fmt::print(stderr, "\nBlocking: {} slice{} longer than {} ms without {}{}:\n", n, n == 1 ? "" : "s", threshold_ms_,
               watched, n > shown ? fmt::format("; the {} longest", shown) : "");
    for (size_t i = 0; i < shown; i++) fmt::print(stderr, "{}", format_blocking(*longest[i], profile.run));
    if (n > shown) fmt::print(stderr, "  ... and {} shorter{}\n", n - shown, event_log_phrase_);
}

}  // namespace pyat
