#include "app/cli.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "app/argument_split.h"
#include "app/option_definitions.h"

namespace pyat {

namespace {

constexpr unsigned max_hz = 10000;
// The run's deadline is a std::chrono::steady_clock time in int64 nanoseconds (292 years from
// boot): 10^9 s (about 31 years) always fits, with room for any uptime.
constexpr double max_duration_s = 1e9;

CliResult error(const std::string& message) { return {std::nullopt, 2, "pyasynctrace: error: " + message}; }

std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

std::optional<double> parse_seconds(std::string text) {
    if (!text.empty() && text.back() == 's') text.pop_back();
    if (text.empty()) return std::nullopt;
    double value = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(value) || value <= 0)
        return std::nullopt;
    return value;
}

template <typename T>
std::optional<T> parse_integer(const std::string& text) {
    T value{};
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

CliResult parse_command_line(int argc, const char* const* argv) {
    SplitArguments split = split_arguments(argc, argv);
    if (split.subcommand != "record")  // the words are taken, so that they never launch a program
        return error(fmt::format("'pyasynctrace {0}' is not in this version yet (the word is reserved: it never "
                                 "launches a program called {0}; 'pyasynctrace -- {0}' does)",
                                 split.subcommand));
    if (split.help) return {std::nullopt, 0, help_text()};
    if (split.error) return error(*split.error + " (see --help)");

    CLI::App app{"", "pyasynctrace"};
    RawOptions p;
    define_options(app, p);
    try {
        std::vector<std::string> reversed(split.ours.rbegin(), split.ours.rend());  // CLI11 wants it reversed
        app.parse(reversed);
    } catch (const CLI::CallForHelp&) {
        return {std::nullopt, 0, app.help()};
    } catch (const CLI::CallForVersion& e) {
        return {std::nullopt, 0, e.what()};
    } catch (const CLI::ParseError& e) {
        return error(one_line(e.what()) + " (see --help)");
    }

    using Single = std::pair<const std::vector<std::string>*, const char*>;
    for (const auto& [values, flag] : {Single{&p.pid, "-p/--pid"}, Single{&p.duration, "-d/--duration"},
                                       Single{&p.format, "--format"}, Single{&p.hz, "--hz"}, Single{&p.clock, "--clock"},
                                       Single{&p.group_by, "--group-by"}, Single{&p.mode, "--mode"},
                                       Single{&p.block_threshold, "--block-threshold"}})
        if (values->size() > 1) return error(fmt::format("{} is given more than once", flag));

    Options options;
    if (!p.pid.empty()) {
        const std::string& text = p.pid.front();
        auto pid = parse_integer<int>(text);
        if (!pid || *pid <= 0)
            return error(fmt::format("-p/--pid takes a process ID (a positive integer), got '{}'", text));
        if (split.separator || !split.command.empty())
            return error(fmt::format("give either -p PID or a command to launch, not both (PID {} and '{}')", text,
                                     split.command.empty() ? "--" : split.command.front()));
        options.mode = TargetMode::attach_pid;
        options.pid = *pid;
    } else if (!split.command.empty()) {
        options.mode = TargetMode::launch;
        options.command = split.command;
    } else if (split.separator) {
        return error("no command after --");
    }

    if (!p.duration.empty()) {
        auto seconds = parse_seconds(p.duration.front());
        if (!seconds)
            return error(fmt::format("--duration must be a positive number of seconds, got '{}'", p.duration.front()));
        if (*seconds > max_duration_s)
            return error(fmt::format("--duration is at most 1000000000 seconds (about 31 years), got '{}'; leave it "
                                     "out to run until Ctrl-C",
                                     p.duration.front()));
        options.duration_s = *seconds;
    }
    if (!p.hz.empty()) {
        auto hz = parse_integer<unsigned>(p.hz.front());
        if (!hz || *hz < 1 || *hz > max_hz)
            return error(fmt::format("--hz must be a whole number from 1 to {}, got '{}'", max_hz, p.hz.front()));
        options.hz = *hz;
    }
    if (!p.clock.empty()) {
        if (p.clock.front() == "cpu")
            options.clock = Clock::cpu;
        else if (p.clock.front() == "wall")
            options.clock = Clock::wall;
        else
            return error(fmt::format("--clock must be cpu or wall, got '{}'", p.clock.front()));
    }

    if (!p.group_by.empty()) {
        if (p.group_by.front() == "code")
            options.group_by = GroupBy::code;
        else if (p.group_by.front() == "thread")
            options.group_by = GroupBy::thread;
        else if (p.group_by.front() == "greenlet")
            options.group_by = GroupBy::greenlet;
        else if (p.group_by.front() == "task")
            options.group_by = GroupBy::task;
        else
            return error(
                fmt::format("--group-by must be code, thread, greenlet or task, got '{}'", p.group_by.front()));
    }
    if (!p.block_threshold.empty()) {
        auto ms = parse_integer<unsigned>(p.block_threshold.front());
        if (!ms || *ms < 1 || *ms > 3'600'000)
            return error(fmt::format("--block-threshold must be a whole number of milliseconds from 1 to 3600000, "
                                     "got '{}'",
                                     p.block_threshold.front()));
        options.block_threshold_ms = *ms;
    }

    const OutputFormat* forced = nullptr;
    if (!p.format.empty()) {
        forced = find_output_format(p.format.front());
        if (!forced)
            return error(
                fmt::format("unknown --format '{}': use {}", p.format.front(), listing(format_names(), " or ")));
        if (p.output.empty()) return error("--format sets the format of -o PATH, and no -o was given");
    }
    for (size_t i = 0; i < p.output.size(); i++) {
        const std::string& path = p.output[i];
        if (std::find(p.output.begin(), p.output.begin() + long(i), path) != p.output.begin() + long(i))
            return error(fmt::format("-o {} is given twice", path));
        const OutputFormat* format = forced ? forced : format_from_name(path);
        if (!format) {
            std::vector<std::string> patterns;
            for (const auto& f : output_formats())
                for (auto& pattern : name_patterns(f)) patterns.push_back(std::move(pattern));
            return error(fmt::format("cannot tell the format of '{}' from its name: name it {}, or add --format {}",
                                     path, listing(patterns, " or "), fmt::join(format_names(), "|")));
        }
        options.outputs.push_back({path, format});
    }
    options.quiet = p.quiet;
    if (p.subprocesses && options.mode != TargetMode::attach_pid)
        return error(options.mode == TargetMode::launch
                         ? "--subprocesses is for -p PID: a launched command's descendants are always followed"
                         : "--subprocesses is for -p PID: host-wide, every process is traced anyway");
    options.subprocesses = p.subprocesses;
    options.raw_stacks = p.raw_stacks;
    if (p.asyncio_steps && options.clock != Clock::wall)
        return error("--asyncio-steps times asyncio tasks' waits: it goes with --clock wall");
    options.asyncio_steps = p.asyncio_steps;
    if (p.deferred_log && p.no_deferred_log) return error("--deferred-log and --no-deferred-log contradict each other");
    options.deferred_log = p.deferred_log;
    if (!p.mode.empty()) {
        if (p.mode.front() == "trace")
            options.trace = true;
        else if (p.mode.front() != "sample")
            return error(fmt::format("--mode must be sample or trace, got '{}'", p.mode.front()));
    }
    for (const auto& glob : p.filter)
        if (glob.empty()) return error("--filter needs a glob, e.g. --filter '*/myapp/*'");
    options.filters = p.filter;
    if (!options.filters.empty() && !options.trace) return error("--filter applies to --mode trace");
    if (options.trace) {
        if (options.subprocesses) return error("--mode trace follows one process: --subprocesses belongs to --mode sample");
        if (options.mode == TargetMode::all_processes)
            return error("--mode trace follows one process: give -p PID or a command after --");
        for (const auto& o : options.outputs)
            if (o.format->event_log)
                return error(fmt::format("--mode trace writes {} outputs, not an event log",
                                         listing(format_names(true), " and ")));
        if (options.deferred_log || options.block_threshold_ms || options.clock != Clock::cpu ||
            options.group_by != GroupBy::code || !p.hz.empty())
            return error("--mode trace measures every call's wall-clock time: --clock, --hz, --group-by, "
                         "--block-threshold and --deferred-log belong to --mode sample");
    }
    const bool event_log = std::any_of(options.outputs.begin(), options.outputs.end(),
                                       [](const OutputSpec& o) { return o.format->event_log; });
    if (options.deferred_log && !event_log)
        return error("--deferred-log writes its entries to the event log: add -o FILE.jsonl");
    // An event log with no blocking report asked for would hold nothing for a Twisted process.
    const bool blocking_report = options.block_threshold_ms || options.clock == Clock::wall ||
                                 options.group_by == GroupBy::greenlet;
    if (!options.trace && event_log && !blocking_report && !p.no_deferred_log && !options.deferred_log) {
        options.deferred_log = true;
        options.deferred_log_by_default = true;
    }
    return {options, 0, ""};
}

}  // namespace pyat
