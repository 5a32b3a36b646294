#include "writers/event_log_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "base/text_encoding.h"

namespace pyat {

std::string json_string(const std::string& raw) {
    std::string out = "\"";
    for (unsigned char c : printable_text(raw)) {
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

namespace {
void write_blocking(const BlockingSlice& b, const RunInfo& run, std::ostream& out) {
    int64_t unix_ns = int64_t(b.start_ns) + run.monotonic_to_unix_ns;
    out << fmt::format(
        "{{\"event\":\"blocking\",\"pid\":{},\"tid\":{},\"who\":{},\"what\":{},\"start\":{},\"start_unix_ns\":{},"
        "\"duration_ms\":{:.3f},\"threshold_ms\":{},\"ongoing\":{},\"samples\":{},\"stacks\":[",
        b.pid, b.tid, json_string(b.who), json_string(b.what), json_string(iso_time(unix_ns)), unix_ns,
        double(b.duration_ns) / 1e6, run.block_threshold_ms, b.ongoing ? "true" : "false", b.samples);
    for (size_t i = 0; i < b.stacks.size(); i++) {
        out << (i ? "," : "") << "{\"samples\":" << b.stacks[i].second << ",\"frames\":[";
        for (size_t j = 0; j < b.stacks[i].first.size(); j++) out << (j ? "," : "") << json_string(b.stacks[i].first[j]);
        out << "]}";
    }
    out << "]}\n";
}

void write_deferred(const DeferredEvent& e, const RunInfo& run, std::ostream& out) {
    int64_t unix_ns = int64_t(e.time_ns) + run.monotonic_to_unix_ns;
    out << fmt::format("{{\"event\":\"deferred\",\"what\":{},\"pid\":{},\"tid\":{},\"time\":{},\"time_unix_ns\":{},"
                       "\"deferred\":{}",
                       json_string(e.what), e.pid, e.tid, json_string(iso_time(unix_ns)), unix_ns, json_string(e.deferred));
    for (const auto& [name, value] : e.fields) out << fmt::format(",{}:{}", json_string(name), value);
    if (e.created_ns)
        out << ",\"created\":" << json_string(iso_time(int64_t(e.created_ns) + run.monotonic_to_unix_ns));
    out << ",\"stack\":[";
    for (size_t i = 0; e.stack && i < e.stack->size(); i++) out << (i ? "," : "") << json_string((*e.stack)[i]);
    out << "]}\n";
}
}  // namespace

void write_event_log(const Profile& profile, std::ostream& out) {
    // Blocking slices and lifecycle entries, merged in time order (lifecycle entries keep the
    // kernel's order among themselves: a call is logged before what it triggers).
    std::vector<std::pair<uint64_t, const BlockingSlice*>> blocking;
    for (const auto& b : profile.blocking) blocking.emplace_back(b.start_ns, &b);
    std::stable_sort(blocking.begin(), blocking.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t next = 0;
    for (const DeferredEvent& e : profile.deferred_events) {
        for (; next < blocking.size() && blocking[next].first <= e.time_ns; next++)
            write_blocking(*blocking[next].second, profile.run, out);
        write_deferred(e, profile.run, out);
    }
    for (; next < blocking.size(); next++) write_blocking(*blocking[next].second, profile.run, out);
}

std::string format_blocking(const BlockingSlice& b, const RunInfo& run) {
    int64_t unix_ns = int64_t(b.start_ns) + run.monotonic_to_unix_ns;
    std::string text = fmt::format("  {:.1f} ms{} {}: {} (PID {}, thread {}), from {}\n",
                                   double(b.duration_ns) / 1e6, b.ongoing ? " and still running" : "",
                                   printable_text(b.what, terminal_name_bytes), printable_text(b.who, terminal_name_bytes),
                                   b.pid, b.tid, iso_time(unix_ns));
    for (const auto& [frames, count] : b.stacks) {
        text += fmt::format("    {} of {} samples:", count, b.samples);
        // Leaf first: where it was, then who called it.
        for (size_t i = frames.size(), shown = 0; i-- > 0 && shown < 6; shown++)
            text += fmt::format("{}{}", shown ? " <- " : " ", printable_text(frames[i], terminal_name_bytes));
        if (frames.size() > 6) text += " <- ...";
        text += "\n";
    }
    return text;
}

}  // namespace pyat
