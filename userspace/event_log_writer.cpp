#include "event_log_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

namespace pyat {

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20)
                    out += fmt::format("\\u{:04x}", c);
                else
                    out += char(c);
        }
    }
    return out + "\"";
}

namespace {
// "2026-11-22T18:40:12.345Z"
std::string iso_time(int64_t unix_ns) {
    time_t seconds = time_t(unix_ns / 1'000'000'000);
    struct tm utc {};
    gmtime_r(&seconds, &utc);
    char buf[32];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
    return fmt::format("{}.{:03d}Z", buf, int((unix_ns / 1'000'000) % 1000));
}
}  // namespace

void write_event_log(const Profile& profile, std::ostream& out) {
    std::vector<const BlockingSlice*> events;
    for (const auto& b : profile.blocking) events.push_back(&b);
    std::stable_sort(events.begin(), events.end(),
                     [](const auto* a, const auto* b) { return a->start_ns < b->start_ns; });
    for (const BlockingSlice* b : events) {
        int64_t unix_ns = int64_t(b->start_ns) + profile.run.monotonic_to_unix_ns;
        out << fmt::format(
            "{{\"event\":\"blocking\",\"pid\":{},\"tid\":{},\"who\":{},\"what\":{},\"start\":{},\"start_unix_ns\":{},"
            "\"duration_ms\":{:.3f},\"threshold_ms\":{},\"ongoing\":{},\"samples\":{},\"stacks\":[",
            b->pid, b->tid, json_string(b->who), json_string(b->what), json_string(iso_time(unix_ns)), unix_ns,
            double(b->duration_ns) / 1e6, profile.run.block_threshold_ms, b->ongoing ? "true" : "false", b->samples);
        for (size_t i = 0; i < b->stacks.size(); i++) {
            out << (i ? "," : "") << "{\"samples\":" << b->stacks[i].second << ",\"frames\":[";
            for (size_t j = 0; j < b->stacks[i].first.size(); j++) out << (j ? "," : "") << json_string(b->stacks[i].first[j]);
            out << "]}";
        }
        out << "]}\n";
    }
}

std::string format_blocking(const BlockingSlice& b, const RunInfo& run) {
    int64_t unix_ns = int64_t(b.start_ns) + run.monotonic_to_unix_ns;
    std::string text = fmt::format("  {:.1f} ms{} {}: {} (PID {}, thread {}), from {}\n",
                                   double(b.duration_ns) / 1e6, b.ongoing ? " and still running" : "", b.what, b.who,
                                   b.pid, b.tid, iso_time(unix_ns));
    for (const auto& [frames, count] : b.stacks) {
        text += fmt::format("    {} of {} samples:", count, b.samples);
        // Leaf first: where it was, then who called it.
        for (size_t i = frames.size(), shown = 0; i-- > 0 && shown < 6; shown++)
            text += fmt::format("{}{}", shown ? " <- " : " ", frames[i]);
        if (frames.size() > 6) text += " <- ...";
        text += "\n";
    }
    return text;
}

}  // namespace pyat
