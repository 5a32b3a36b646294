#include "app/cli.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <string_view>

#include "base/error.h"

namespace pyat {

namespace {

#ifndef PYAT_VERSION
#define PYAT_VERSION "dev"
#endif

constexpr unsigned max_hz = 10000;
// The run's deadline is a std::chrono::steady_clock time in int64 nanoseconds (292 years from
// boot): 10^9 s (about 31 years) always fits, with room for any uptime.
constexpr double max_duration_s = 1e9;
constexpr size_t name_column = 26;   // help: width of the option-name column
constexpr size_t text_column = 52;   // help: width of the description column (80 columns in all)

// Every option we know. The command line is split and normalised with this table before CLI11
// sees it (see split_arguments), so that a value is never mistaken for an option ("-p -3",
// "-o -x.svg") and a command's own flags are never parsed as ours.
struct Flag {
    char short_name;  // 0: long only
    std::string_view long_name;
    bool takes_value;
};
constexpr Flag flags[] = {
    {'h', "--help", false},    {'V', "--version", false}, {'q', "--quiet", false},
    {'p', "--pid", true},      {'d', "--duration", true}, {'o', "--output", true},
    {0, "--format", true},     {0, "--hz", true},         {0, "--clock", true},
    {0, "--group-by", true},   {0, "--block-threshold", true}, {0, "--raw-stacks", false},
    {0, "--deferred-log", false}, {0, "--no-deferred-log", false}, {0, "--mode", true}, {0, "--filter", true}, {0, "--subprocesses", false},
};

const Flag* find_long(std::string_view name) {
    for (const auto& f : flags)
        if (f.long_name == name) return &f;
    return nullptr;
}

const Flag* find_short(char c) {
    for (const auto& f : flags)
        if (f.short_name && f.short_name == c) return &f;
    return nullptr;
}

// "-p/--pid" or "--hz": how messages name an option.
std::string display_name(const Flag& f) {
    return f.short_name ? fmt::format("-{}/{}", f.short_name, f.long_name) : std::string(f.long_name);
}

struct SplitArguments {
    std::vector<std::string> ours;     // normalised: "--name" or "--name=value", in order
    std::vector<std::string> command;  // the command to launch, verbatim
    bool separator = false;            // "--" was given
    bool help = false, version = false;
    std::optional<std::string> error;  // the first problem found
};

// Our options come first; the command starts after "--" or at the first word that is neither an
// option nor an option's value.
SplitArguments split_arguments(int argc, const char* const* argv) {
    SplitArguments s;
    auto fail = [&](std::string message) {
        if (!s.error) s.error = std::move(message);
    };
    auto add = [&](const Flag& f, const std::optional<std::string>& value) {
        if (f.long_name == "--help") s.help = true;
        if (f.long_name == "--version") s.version = true;
        if (!f.takes_value) {
            s.ours.emplace_back(f.long_name);
        } else if (!value) {
            fail(fmt::format("{} needs a value", display_name(f)));
        } else if (value->empty()) {
            fail(fmt::format("{} needs a value, got an empty one", display_name(f)));
        } else {
            s.ours.push_back(fmt::format("{}={}", f.long_name, *value));
        }
    };
    for (int i = 1; i < argc; i++) {
        std::string_view arg = argv[i] ? argv[i] : "";
        auto next_value = [&]() -> std::optional<std::string> {
            if (i + 1 < argc && argv[i + 1]) return std::string(argv[++i]);
            return std::nullopt;
        };
        if (arg == "--") {
            s.separator = true;
            for (int j = i + 1; j < argc; j++) s.command.emplace_back(argv[j] ? argv[j] : "");
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            if (arg.empty() || arg == "-") {
                fail(fmt::format("unexpected argument '{}'", arg));
                continue;
            }
            for (int j = i; j < argc; j++) s.command.emplace_back(argv[j] ? argv[j] : "");
            break;
        }
        if (arg.starts_with("--")) {
            size_t eq = arg.find('=');
            std::string_view name = arg.substr(0, eq);
            const Flag* f = find_long(name);
            if (!f) {
                fail(fmt::format("unknown option '{}'", name));
            } else if (eq != std::string_view::npos) {
                if (f->takes_value)
                    add(*f, std::string(arg.substr(eq + 1)));
                else
                    fail(fmt::format("{} takes no value", f->long_name));
            } else {
                add(*f, f->takes_value ? next_value() : std::nullopt);
            }
            continue;
        }
        // A cluster of short options: "-q", "-qp 42", "-p42", "-qp42".
        for (size_t k = 1; k < arg.size(); k++) {
            const Flag* f = find_short(arg[k]);
            if (!f) {
                fail(fmt::format("unknown option '-{}'", arg[k]));
                break;
            }
            if (!f->takes_value) {
                add(*f, std::nullopt);
                continue;
            }
            add(*f, k + 1 < arg.size() ? std::optional<std::string>(arg.substr(k + 1)) : next_value());
            break;
        }
    }
    return s;
}

CliResult error(const std::string& message) { return {std::nullopt, 2, "pyasynctrace: error: " + message}; }

std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

// Greedy word wrap for the help's description column (CLI11 2.1 does not wrap, but indents
// after each '\n').
std::string wrap(std::string_view text, size_t width) {
    std::string out, line;
    std::istringstream words{std::string(text)};
    std::string word;
    while (words >> word) {
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            out += line + "\n";
            line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
    }
    return out + line;
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

// "a, b or c" ("a, b and c" with `last` " and ").
std::string listing(const std::vector<std::string>& items, std::string_view last) {
    std::string out;
    for (size_t i = 0; i < items.size(); i++)
        out += (i == 0 ? "" : i + 1 == items.size() ? std::string(last) : ", ") + items[i];
    return out;
}

// The output formats' names (those that hold stacks only, with `stacks_only`).
std::vector<std::string> format_names(bool stacks_only = false) {
    std::vector<std::string> names;
    for (const auto& f : output_formats())
        if (!stacks_only || !f.event_log) names.emplace_back(f.name);
    return names;
}

// How a path names a format: "*.callgrind", "callgrind.out*".
std::vector<std::string> name_patterns(const OutputFormat& f) {
    std::vector<std::string> patterns;
    for (std::string_view suffix : f.suffixes) patterns.push_back("*" + std::string(suffix));
    if (!f.name_prefix.empty()) patterns.push_back(std::string(f.name_prefix) + "*");
    return patterns;
}

// -o's help: every format's name patterns and help line.
std::string output_help() {
    std::string text = "write a profile to PATH; repeat for several. The format follows the name: ";
    for (size_t i = 0; i < output_formats().size(); i++) {
        const OutputFormat& f = output_formats()[i];
        text += fmt::format("{}{} -> {}", i ? "; " : "", listing(name_patterns(f), " or "), f.help);
    }
    return text + ". Default: see Outputs below.";
}

const char* const synopsis =
    "Usage:\n"
    "  pyasynctrace [OPTIONS] -p PID            attach to a running process\n"
    "  pyasynctrace [OPTIONS] -- CMD [ARGS...]  launch CMD under the tracer; exit with CMD's exit\n"
    "                                           code (\"--\" may be left out when CMD does not\n"
    "                                           start with \"-\")\n"
    "  pyasynctrace [OPTIONS]                   every CPython process on the host, including ones\n"
    "                                           that start during the run\n";

const char* const description =
    "pyasynctrace samples the Python stacks of running CPython 3.8-3.14 processes with BPF:\n"
    "no restart, no code change. It writes callgrind profiles (kcachegrind, callgrind_annotate),\n"
    "folded stacks (flamegraph.pl, speedscope) and an interactive SVG flame graph.\n"
    "Needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE).\n\n";

const char* const footer =
    "Outputs: without -o, pyasynctrace.<pid>.callgrind plus pyasynctrace.<pid>.svg beside it, in the\n"
    "current directory (<pid>: the target, the launched command, or the tracer itself when tracing\n"
    "every process). A callgrind file holds one process: when several processes were sampled, each\n"
    "gets its own file, the name with .<pid> appended (all.callgrind.4242). Folded stacks and the\n"
    "flame graph hold every process, each under a root frame such as 'python3.11 [4242]'.\n"
    "Each file is written whole to a temporary file beside it and renamed into place (mode 0644 at\n"
    "most). Refused at start, before anything runs: a destination that exists and is not a regular\n"
    "file (FIFO, device, socket, directory), two outputs that are one file, and a symbolic link in a\n"
    "sticky world-writable directory such as /tmp that belongs neither to you nor to the directory's\n"
    "owner (fs.protected_symlinks, enforced whatever the sysctl says). A run that sampled nothing\n"
    "(and traced no call, logged no event) writes no file and says so.\n"
    "\n"
    "Stopping: the run ends after --duration, when every target has exited, or on Ctrl-C, SIGTERM,\n"
    "SIGHUP (the terminal or SSH session went away) or SIGPIPE (stderr's reader went away), and then\n"
    "writes what was collected; a second Ctrl-C (or SIGTERM) quits at once without writing. A\n"
    "launched command gets the signal once: the tracer passes it on unless the terminal sent it to\n"
    "both (Ctrl-C), then waits for the command up to 10 s and leaves it running after that.\n"
    "\n"
    "Exit code: with a launched command, the command's (128+N when signal N killed it), or 128+N\n"
    "when it was still running 10 s after signal N ended the run; otherwise 0 once the profile is\n"
    "written. 1: the tracer failed (its message says why), an output could not be written, or (with\n"
    "-p or every process) nothing was sampled; 2: a bad command line.\n"
    "\n"
    "A target is never left stopped: what holds one for a moment (a launched command until the\n"
    "probes are attached, --deferred-log's stop at Twisted's import) is let go by a guard process\n"
    "(pyat-guard) as soon as the tracer dies or is stopped, or once the hold is too old.\n"
    "\n"
    "Examples:\n"
    "  sudo pyasynctrace -p 4242 -d 30\n"
    "      30 s of PID 4242 -> pyasynctrace.4242.callgrind and pyasynctrace.4242.svg\n"
    "  sudo pyasynctrace -o prof.svg -o prof.folded -- python3 app.py\n"
    "      launch app.py under the tracer, until it exits or Ctrl-C\n"
    "  sudo pyasynctrace --clock wall -d 10 -o all.callgrind\n"
    "      every CPython process for 10 s, time spent blocked included; one file per process\n"
    "  sudo pyasynctrace -p 4242 --hz 499 -d 5 -o hot.callgrind && callgrind_annotate hot.callgrind\n"
    "      a short, denser profile, read in the terminal\n"
    "  sudo pyasynctrace -q -p 4242 -o prof.txt --format folded\n"
    "      a name the format cannot be told from, with the format given; nothing printed";

class HelpFormatter : public CLI::Formatter {
public:
    std::string make_description(const CLI::App*) const override { return description; }
    std::string make_usage(const CLI::App*, std::string) const override { return synopsis; }
    // "-p,--pid PID"; only -o, which repeats, gets CLI11's "..." (the others are collected as
    // lists too, to report repeats ourselves).
    std::string make_option_opts(const CLI::Option* opt) const override {
        if (opt->get_type_size() == 0) return "";
        return " " + opt->get_type_name() + (opt->check_lname("output") ? " ..." : "");
    }
};

struct Parsed {
    std::vector<std::string> pid, duration, output, format, hz, clock, group_by, block_threshold, mode, filter;
    bool quiet = false;
    bool raw_stacks = false;
    bool deferred_log = false;
    bool no_deferred_log = false;
    bool subprocesses = false;
};

void define_options(CLI::App& app, Parsed& p) {
    app.formatter(std::make_shared<HelpFormatter>());
    app.get_formatter()->column_width(name_column);
    app.footer(footer);
    app.set_help_flag("-h,--help", "print this help and exit");
    app.set_version_flag("-V,--version", std::string("pyasynctrace ") + PYAT_VERSION, "print the version and exit");
    // Each description ends with an example on a line of its own.
    auto describe = [](std::string_view text, const char* example) {
        return wrap(text, text_column) + "\n" + wrap(std::string("e.g. ") + example, text_column);
    };
    auto option = [&](const char* names, std::vector<std::string>& into, const char* type, std::string_view text,
                      const char* example) {
        // Values are collected as lists: -o repeats, the others are checked for repeats below.
        app.add_option(names, into, describe(text, example))
            ->type_name(type)
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    };
    option("-p,--pid", p.pid, "PID",
           "attach to this running CPython process (all its threads); a process in a container by its PID as "
           "the host numbers it; not together with a command.",
           "-p 4242");
    option("-d,--duration", p.duration, "SECONDS",
           "stop after this long: a positive number of seconds up to 1000000000 (about 31 years), "
           "fractions allowed, an 's' suffix accepted. Default: until Ctrl-C, or until every target "
           "has exited.",
           "-d 30, -d 2.5s");
    option("-o,--output", p.output, "PATH", output_help(), "-o prof.svg -o prof.callgrind");
    option("--format", p.format, "FORMAT",
           listing(format_names(), " or ") + ": the format of every -o, whatever its name.",
           "-o prof.txt --format folded");
    option("--mode", p.mode, "sample|trace",
           "sample (default): sample stacks at --hz, cheap enough for production. trace: count and "
           "time every call exactly from the interpreter's function probes (USDT function__entry "
           "and function__return, with gc__start/gc__done as a [gc] frame), for -p PID or a "
           "command. Costs the target a trap per call (~5 us here): for debugging runs. CPython "
           "3.11 fires function__entry for few calls: calls are then counted at their return "
           "(exact counts, estimated times); 3.12-3.14 have no function probes.",
           "--mode trace -o calls.callgrind -- python3.11 app.py");
    option("--filter", p.filter, "GLOB",
           "--mode trace: record only functions whose file or qualified name matches GLOB "
           "(fnmatch; repeat for several); the time of others goes to their nearest recorded "
           "caller. Every call still traps: it trims the output, not the cost.",
           "--filter '*/myapp/*' --filter 'Handler.*'");
    option("--hz", p.hz, "N",
           "samples per second for each thread, 1 to 10000 (default 99). 99 rather than 100 keeps "
           "the samples out of lock-step with 100 Hz timers, still gives about 1000 samples per "
           "busy thread in 10 s, and costs the target a fraction of a percent.",
           "--hz 499 for a short, dense profile");
    option("--clock", p.clock, "cpu|wall",
           "cpu (default): on-CPU time only, where the program computes. wall: also off-CPU time "
           "(blocked, sleeping, waiting on I/O), sampled the same way and charged to the stack "
           "that waits.",
           "--clock wall for a program that mostly waits");
    option("--group-by", p.group_by, "code|thread|greenlet",
           "code (default): stacks of the same code merge, whichever thread or greenlet ran them. "
           "thread: each stack starts at a frame naming its thread, thread \"worker-1\" [4243] (the "
           "Python name from threading, else just the TID). greenlet: at a frame naming its "
           "greenlet, greenlet 7 (handle_client): its number in order of appearance and the "
           "function it runs (hooks greenlet's switch, like --clock wall).",
           "--group-by thread --clock wall to see what every thread waits on");
    option("--block-threshold", p.block_threshold, "MS",
           "report every greenlet that runs longer than MS milliseconds without switching, i.e. "
           "blocks gevent's hub and every other greenlet of its thread (default 100, as gevent's "
           "monitor), and every Twisted reactor iteration (the time between two polls: one "
           "callback or a run of them) longer than MS: with its stack, in -o *.jsonl (every one), "
           "and on a terminal (the first 5 as they happen; at the end the 10 longest and how many "
           "there were). On whenever greenlet switches are hooked (--clock "
           "wall, --group-by greenlet); giving it hooks them in --clock cpu too. A hooked switch "
           "costs the target about 5 us; watching the reactor's polls costs it nothing.",
           "--block-threshold 50 -o blocks.jsonl");
    app.add_flag("--raw-stacks", p.raw_stacks,
                 describe("show Twisted @inlineCallbacks code as the interpreter runs it (under the "
                          "reactor, _inlineCallbacks, gotResult...) instead of the logical stacks: by "
                          "default a generator shows under the code that called it and the "
                          "generators waiting for it, with Twisted's trampolines hidden.",
                          "--raw-stacks to debug Twisted itself"));
    app.add_flag("--deferred-log", p.deferred_log,
                 describe("log every Twisted Deferred's lifecycle into the -o *.jsonl event log: created, "
                          "callbacks added, fired or failed, chained, each callback run (how long, how it "
                          "ended), each with its logical stack; Deferreds still pending at the end are "
                          "listed with their age and creation stack. Needs a CPython that fires the "
                          "function__return USDT probe (Debian's python3.11): every Python return then "
                          "traps, ~5 us each, so keep it to debugging runs, not busy production services. "
                          "On by itself when -o *.jsonl is asked for without a blocking report (no "
                          "--block-threshold, --clock wall or --group-by greenlet): the event log of a "
                          "Twisted process would otherwise hold nothing.",
                          "--deferred-log -o deferreds.jsonl"));
    app.add_flag("--no-deferred-log", p.no_deferred_log,
                 describe("never hook Python returns for the Deferred lifecycle log, even with -o *.jsonl.",
                          "-o events.jsonl --no-deferred-log"));
    app.add_flag("--subprocesses", p.subprocesses,
                 describe("with -p: also trace the processes PID forks and the programs they exec, as they "
                          "start (a pre-forking server's workers, multiprocessing pools). A launched "
                          "command's descendants and, host-wide, every process are always followed.",
                          "-p 4242 --subprocesses"));
    app.add_flag("-q,--quiet", p.quiet,
                 describe("errors only: no status line, no notes, no \"wrote\" lines, no summary; warnings "
                          "that the profile is incomplete (lost samples) and an empty run's \"no file "
                          "written\" still show.",
                          "-q -o prof.folded"));
}

std::string help_text() {
    CLI::App app{"", "pyasynctrace"};
    Parsed unused;
    define_options(app, unused);
    return app.help();
}

}  // namespace

CliResult parse_command_line(int argc, const char* const* argv) {
    SplitArguments split = split_arguments(argc, argv);
    if (split.help) return {std::nullopt, 0, help_text()};
    if (split.error) return error(*split.error + " (see --help)");

    CLI::App app{"", "pyasynctrace"};
    Parsed p;
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
        else
            return error(fmt::format("--group-by must be code, thread or greenlet, got '{}'", p.group_by.front()));
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
