#include "cli.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <set>

#include "error.h"

namespace pyat {

namespace {

#ifndef PYAT_VERSION
#define PYAT_VERSION "dev"
#endif

constexpr unsigned max_hz = 10000;

const char* const description =
    "pyasynctrace samples the Python stacks of running CPython processes with BPF: no restart,\n"
    "no code change. It writes callgrind profiles (kcachegrind, callgrind_annotate), folded\n"
    "stacks (flamegraph.pl, speedscope) and an interactive SVG flame graph.\n\n"
    "  pyasynctrace [OPTIONS] -p PID            attach to a running process\n"
    "  pyasynctrace [OPTIONS] -- CMD [ARGS...]  launch CMD under the tracer; exit with CMD's exit code\n"
    "  pyasynctrace [OPTIONS]                   every CPython process on the host, including ones\n"
    "                                           that start during the run\n\n"
    "Needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE).";

const char* const footer =
    "Outputs: without -o, pyasynctrace.<pid>.callgrind plus pyasynctrace.<pid>.svg beside it (the\n"
    "PID of the target, of the launched command, or of the tracer itself when tracing every process).\n"
    "Callgrind holds one process per file: when several processes were sampled, each gets its own\n"
    "file with .<pid> appended (out.callgrind.4242). Folded stacks and the flame graph put each\n"
    "process under a root frame such as 'python3.11 [4242]'.\n\n"
    "The run ends after --duration, when every target has exited, or on Ctrl-C / SIGTERM, and then\n"
    "writes everything collected; a second Ctrl-C quits at once without writing.\n\n"
    "Examples:\n"
    "  sudo pyasynctrace -p 4242 -d 30\n"
    "      30 s of PID 4242 -> pyasynctrace.4242.callgrind and pyasynctrace.4242.svg\n"
    "  sudo pyasynctrace -o app.svg -o app.folded -- python3 app.py --port 8080\n"
    "      launch app.py under the tracer until it exits (or Ctrl-C)\n"
    "  sudo pyasynctrace --clock wall -d 10 -o all.callgrind\n"
    "      every CPython process for 10 s, counting time spent blocked too\n"
    "  sudo pyasynctrace -p 4242 --hz 499 -d 5 -o hot.callgrind && callgrind_annotate hot.callgrind\n"
    "      a short, denser profile, read in the terminal\n"
    "  sudo pyasynctrace -p 4242 -o prof.txt --format folded\n"
    "      a name the format can't be told from, with the format given";

// Flags that take a value: the word after them is theirs, not the start of a command.
const std::set<std::string> value_flags = {"-p", "--pid", "-d", "--duration", "-o", "--output",
                                           "--format", "--hz", "--clock"};

CliResult error(const std::string& message) { return {std::nullopt, 2, "pyasynctrace: error: " + message}; }

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

std::optional<OutputFormat> parse_format(const std::string& name) {
    if (name == "callgrind") return OutputFormat::callgrind;
    if (name == "folded") return OutputFormat::folded;
    if (name == "svg") return OutputFormat::svg;
    return std::nullopt;
}

std::string one_line(std::string text) {
    for (auto& c : text)
        if (c == '\n') c = ' ';
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

}  // namespace

std::optional<OutputFormat> format_from_name(const std::string& path) {
    auto slash = path.rfind('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    auto ends_with = [&](const char* suffix) { return base.size() > strlen(suffix) && base.ends_with(suffix); };
    if (ends_with(".callgrind") || base.rfind("callgrind.out", 0) == 0) return OutputFormat::callgrind;
    if (ends_with(".folded")) return OutputFormat::folded;
    if (ends_with(".svg")) return OutputFormat::svg;
    return std::nullopt;
}

void check_output_writable(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) throw Error(fmt::format("cannot write {}: it is a directory", path));
        if (access(path.c_str(), W_OK) != 0)
            throw Error(fmt::format("cannot write {}: {}", path, strerror(errno)));
        return;
    }
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    if (stat(dir.c_str(), &st) != 0) throw Error(fmt::format("cannot write {}: {}", path, strerror(errno)));
    if (!S_ISDIR(st.st_mode)) throw Error(fmt::format("cannot write {}: {} is not a directory", path, dir));
    if (access(dir.c_str(), W_OK | X_OK) != 0)
        throw Error(fmt::format("cannot write {}: {}", path, strerror(errno)));
}

CliResult parse_command_line(int argc, const char* const* argv) {
    // Split our options from the command to launch: everything after "--", or from the first
    // word that is neither an option nor an option's value.
    std::vector<std::string> ours = {argc > 0 ? argv[0] : "pyasynctrace"};
    std::vector<std::string> command;
    bool explicit_separator = false;
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        if (arg == "--") {
            explicit_separator = true;
            command.assign(argv + i + 1, argv + argc);
            break;
        }
        if (arg.empty() || arg[0] != '-') {
            command.assign(argv + i, argv + argc);
            break;
        }
        ours.push_back(arg);
        if (value_flags.count(arg) && i + 1 < argc) ours.push_back(argv[++i]);
    }

    CLI::App app{description, "pyasynctrace"};
    app.footer(footer);
    app.get_formatter()->column_width(30);
    app.set_version_flag("-V,--version", std::string("pyasynctrace ") + PYAT_VERSION);

    std::string pid_text, duration_text, format_text, hz_text, clock_text = "cpu";
    std::vector<std::string> output_paths;
    bool quiet = false;
    app.add_option("-p,--pid", pid_text, "attach to this running CPython process, e.g. -p 4242")
        ->type_name("PID");
    app.add_option("-d,--duration", duration_text,
                   "stop after this long, e.g. -d 30 or -d 2.5s (default: until Ctrl-C, or until every "
                   "target exited)")
        ->type_name("SECONDS");
    app.add_option("-o,--output", output_paths,
                   "write a profile here; repeatable; the format comes from the name: *.callgrind or "
                   "callgrind.out* -> callgrind, *.folded -> folded stacks, *.svg -> flame graph, "
                   "e.g. -o prof.svg -o prof.callgrind")
        ->type_name("PATH");
    app.add_option("--format", format_text,
                   "force the format of every -o: callgrind, folded or svg, e.g. -o prof.txt --format folded")
        ->type_name("FORMAT");
    app.add_option("--hz", hz_text,
                   "samples per second per thread, 1 to 10000 (default 99: off the beat of 100 Hz "
                   "timers, ~1000 samples per busy thread in 10 s, and a fraction of a percent of the "
                   "target's time), e.g. --hz 499")
        ->type_name("N");
    app.add_option("--clock", clock_text,
                   "cpu (default): on-CPU time only; wall: also time spent off-CPU (blocked, sleeping, "
                   "waiting on I/O), sampled the same way and charged to the stack that waits, "
                   "e.g. --clock wall")
        ->type_name("cpu|wall");
    app.add_flag("-q,--quiet", quiet, "no live status line and no summary table (errors still show)");

    try {
        std::vector<std::string> reversed(ours.rbegin(), ours.rend() - 1);
        app.parse(reversed);
    } catch (const CLI::CallForHelp&) {
        return {std::nullopt, 0, app.help()};
    } catch (const CLI::CallForVersion& e) {
        return {std::nullopt, 0, e.what()};
    } catch (const CLI::ParseError& e) {
        return error(one_line(e.what()) + " (see --help)");
    }

    Options options;
    if (!pid_text.empty()) {
        auto pid = parse_integer<int>(pid_text);
        if (!pid || *pid <= 0) return error(fmt::format("-p/--pid takes a process ID (a positive integer), got '{}'", pid_text));
        if (!command.empty() || explicit_separator)
            return error("give either -p PID or a command to launch after --, not both");
        options.mode = TargetMode::attach_pid;
        options.pid = *pid;
    } else if (!command.empty()) {
        options.mode = TargetMode::launch;
        options.command = command;
    } else if (explicit_separator) {
        return error("no command after --");
    }

    if (!duration_text.empty()) {
        auto seconds = parse_seconds(duration_text);
        if (!seconds) return error(fmt::format("--duration must be a positive number of seconds, got '{}'", duration_text));
        options.duration_s = *seconds;
    }
    if (!hz_text.empty()) {
        auto hz = parse_integer<unsigned>(hz_text);
        if (!hz || *hz < 1 || *hz > max_hz)
            return error(fmt::format("--hz must be a whole number from 1 to {}, got '{}'", max_hz, hz_text));
        options.hz = *hz;
    }
    if (clock_text == "cpu")
        options.clock = Clock::cpu;
    else if (clock_text == "wall")
        options.clock = Clock::wall;
    else
        return error(fmt::format("--clock must be cpu or wall, got '{}'", clock_text));

    std::optional<OutputFormat> forced;
    if (!format_text.empty()) {
        forced = parse_format(format_text);
        if (!forced) return error(fmt::format("unknown --format '{}': use callgrind, folded or svg", format_text));
        if (output_paths.empty()) return error("--format applies to -o PATH, and no -o was given");
    }
    for (const auto& path : output_paths) {
        auto format = forced ? forced : format_from_name(path);
        if (!format)
            return error(fmt::format("cannot tell the format of '{}' from its name: name it *.callgrind, "
                                     "callgrind.out*, *.folded or *.svg, or add --format",
                                     path));
        options.outputs.push_back({path, *format});
    }
    options.quiet = quiet;
    return {options, 0, ""};
}

}  // namespace pyat
