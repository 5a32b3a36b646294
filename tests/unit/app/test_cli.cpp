// The command line: every flag, every rule, one-line errors and help.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "app/cli.h"
#include "base/error.h"
#include "test_support.h"

using namespace pyat;
using namespace pyat::test;

namespace {

CliResult parse(std::vector<const char*> args) {
    args.insert(args.begin(), "pyasynctrace");
    return parse_command_line(int(args.size()), args.data());
}

Options ok(std::vector<const char*> args) {
    CliResult r = parse(args);
    if (!r.options) ADD_FAILURE() << "rejected: " << r.message;
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.message, "");
    return r.options.value_or(Options{});
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A rejected command line: exit code 2 and one line "pyasynctrace: error: ...". Returns the line.
std::string bad(std::vector<const char*> args) {
    CliResult r = parse(args);
    std::string joined;
    for (auto a : args) joined += std::string(" ") + a;
    EXPECT_FALSE(r.options.has_value()) << joined;
    EXPECT_EQ(r.exit_code, 2) << joined;
    EXPECT_EQ(r.message.rfind("pyasynctrace: error: ", 0), 0u) << r.message;
    EXPECT_EQ(r.message.find('\n'), std::string::npos) << r.message;
    EXPECT_GT(r.message.size(), 30u) << r.message;
    return r.message;
}

TEST(CommandLine, NoArgumentsMeansEveryProcessWithDefaults) {
    Options o = ok({});
    EXPECT_EQ(o.mode, TargetMode::all_processes);
    EXPECT_EQ(o.pid, 0);
    EXPECT_TRUE(o.command.empty());
    EXPECT_FALSE(o.duration_s.has_value());
    EXPECT_TRUE(o.outputs.empty());
    EXPECT_EQ(o.hz, 99u);
    EXPECT_EQ(o.clock, Clock::cpu);
    EXPECT_FALSE(o.quiet);
    // An empty argv (no program name) is no crash either.
    EXPECT_TRUE(parse_command_line(0, nullptr).options.has_value());
}

TEST(CommandLine, Pid) {
    for (auto args : std::vector<std::vector<const char*>>{
             {"-p", "4242"}, {"--pid", "4242"}, {"--pid=4242"}, {"-p4242"}, {"-qp", "4242"}, {"-qp4242"}}) {
        Options o = ok(args);
        EXPECT_EQ(o.mode, TargetMode::attach_pid);
        EXPECT_EQ(o.pid, 4242);
    }
    EXPECT_TRUE(ok({"-qp", "1"}).quiet);
    for (const char* v : {"abc", "0", "-3", "12x", "1.5", "99999999999", " 7"}) {
        std::string e = bad({"-p", v});
        EXPECT_TRUE(contains(e, "-p/--pid takes a process ID (a positive integer), got '" + std::string(v) + "'")) << e;
    }
    EXPECT_TRUE(contains(bad({"-p"}), "-p/--pid needs a value"));
    EXPECT_TRUE(contains(bad({"--pid="}), "-p/--pid needs a value"));
    EXPECT_TRUE(contains(bad({"-p", "1", "-p", "2"}), "-p/--pid is given more than once"));
}

TEST(CommandLine, PidAndCommandTogetherIsAnError) {
    EXPECT_TRUE(contains(bad({"-p", "42", "--", "python3", "app.py"}), "not both"));
    EXPECT_TRUE(contains(bad({"-p", "42", "python3", "app.py"}), "not both"));
    EXPECT_TRUE(contains(bad({"-p", "42", "--"}), "not both"));
}

TEST(CommandLine, CommandIsTakenVerbatim) {
    Options o = ok({"-d", "5", "--", "python3", "-c", "import sys; print(sys.argv)", "-p", "3", "--", "-h", "--hz=7"});
    EXPECT_EQ(o.mode, TargetMode::launch);
    EXPECT_EQ(o.command, (std::vector<std::string>{"python3", "-c", "import sys; print(sys.argv)", "-p", "3", "--",
                                                   "-h", "--hz=7"}));
    EXPECT_EQ(*o.duration_s, 5.0);
    EXPECT_EQ(o.hz, 99u);

    // Without "--" when the command starts with a word that is not an option.
    o = ok({"--clock", "wall", "-o", "x.svg", "python3", "-m", "http.server", "-d", "/tmp", "--help"});
    EXPECT_EQ(o.mode, TargetMode::launch);
    EXPECT_EQ(o.command, (std::vector<std::string>{"python3", "-m", "http.server", "-d", "/tmp", "--help"}));
    EXPECT_EQ(o.clock, Clock::wall);
    ASSERT_EQ(o.outputs.size(), 1u);
    EXPECT_EQ(o.outputs[0].path, "x.svg");

    // Even a command that starts with "-", after "--".
    EXPECT_EQ(ok({"--", "-weird"}).command, std::vector<std::string>{"-weird"});
    EXPECT_TRUE(contains(bad({"--"}), "no command after --"));
    EXPECT_TRUE(contains(bad({"-q", "--"}), "no command after --"));
}

TEST(CommandLine, Duration) {
    struct Case {
        const char* text;
        double seconds;
    };
    for (auto c : {Case{"30", 30}, Case{"2.5", 2.5}, Case{"2.5s", 2.5}, Case{"0.1", 0.1}, Case{".5", 0.5},
                   Case{"1e2", 100}, Case{"10s", 10}}) {
        Options o = ok({"-d", c.text});
        ASSERT_TRUE(o.duration_s.has_value()) << c.text;
        EXPECT_DOUBLE_EQ(*o.duration_s, c.seconds) << c.text;
    }
    EXPECT_DOUBLE_EQ(*ok({"--duration=7"}).duration_s, 7);
    EXPECT_DOUBLE_EQ(*ok({"--duration", "7s"}).duration_s, 7);
    EXPECT_DOUBLE_EQ(*ok({"-d3"}).duration_s, 3);
    for (const char* v : {"0", "-1", "x", "inf", "nan", "1e999", "5ss", "s", "5 s", "5m", "1,5", "0x10", "-0"}) {
        std::string e = bad({"-d", v});
        EXPECT_TRUE(contains(e, "--duration must be a positive number of seconds, got '" + std::string(v) + "'")) << e;
    }
    EXPECT_TRUE(contains(bad({"-d"}), "-d/--duration needs a value"));
    // What the run's deadline (steady_clock nanoseconds) cannot hold is refused, not wrapped
    // around: -d 1e10 used to stop after 0.1 s.
    EXPECT_DOUBLE_EQ(*ok({"-d", "1e9"}).duration_s, 1e9);
    for (const char* v : {"1e10", "1000000001", "1e18", "9.3e9s", "1e308"}) {
        std::string e = bad({"-d", v});
        EXPECT_TRUE(contains(e, "--duration is at most 1000000000 seconds (about 31 years), got '" + std::string(v) + "'"))
            << e;
    }
    EXPECT_TRUE(contains(bad({"-d", "1", "-d", "2"}), "more than once"));
}

TEST(CommandLine, OutputsTakeTheirFormatFromTheName) {
    Options o = ok({"-o", "prof.callgrind", "-o", "callgrind.out", "-o", "dir/callgrind.out.1234", "--output",
                    "a.folded", "--output=b.svg", "-o", "/tmp/with space.svg", "-o", "-dash.svg", "-oc.FOLDED"});
    ASSERT_EQ(o.outputs.size(), 8u);
    std::vector<std::pair<std::string, const OutputFormat*>> want = {
        {"prof.callgrind", &output_format("callgrind")}, {"callgrind.out", &output_format("callgrind")},
        {"dir/callgrind.out.1234", &output_format("callgrind")}, {"a.folded", &output_format("folded")},
        {"b.svg", &output_format("svg")}, {"/tmp/with space.svg", &output_format("svg")},
        {"-dash.svg", &output_format("svg")}, {"c.FOLDED", &output_format("folded")}};
    for (size_t i = 0; i < want.size(); i++) {
        EXPECT_EQ(o.outputs[i].path, want[i].first);
        EXPECT_EQ(o.outputs[i].format, want[i].second) << want[i].first;
    }
    EXPECT_EQ(format_from_name("x.callgrind.svg"), &output_format("svg"));
    EXPECT_EQ(format_from_name("callgrind.out.svg"), &output_format("callgrind"));  // the base name rule wins
    EXPECT_EQ(format_from_name("mycallgrind.out"), nullptr);
    EXPECT_EQ(format_from_name(".svg"), nullptr);
    EXPECT_EQ(format_from_name("svg/"), nullptr);
    EXPECT_EQ(format_from_name("dir.svg/prof"), nullptr);

    for (const char* name : {"prof.txt", "prof", "prof.svgz", "dir.svg/", "callgrind", "x.pdf"}) {
        std::string e = bad({"-o", name});
        EXPECT_TRUE(contains(e, std::string("'") + name + "'")) << e;
        for (const char* hint : {"*.callgrind", "callgrind.out", "*.folded", "*.svg", "--format"})
            EXPECT_TRUE(contains(e, hint)) << e;
    }
    EXPECT_TRUE(contains(bad({"-o"}), "-o/--output needs a value"));
    EXPECT_TRUE(contains(bad({"-o", ""}), "-o/--output needs a value"));
    EXPECT_TRUE(contains(bad({"-o", "a.svg", "-o", "a.svg"}), "given twice"));
}

TEST(CommandLine, FormatForcesEveryOutput) {
    Options o = ok({"-o", "a.txt", "-o", "b.svg", "--format", "folded"});
    ASSERT_EQ(o.outputs.size(), 2u);
    EXPECT_EQ(o.outputs[0].format, &output_format("folded"));
    EXPECT_EQ(o.outputs[1].format, &output_format("folded"));
    EXPECT_EQ(ok({"--format=callgrind", "-o", "x"}).outputs.at(0).format, &output_format("callgrind"));
    EXPECT_EQ(ok({"--format", "svg", "-o", "/dev/stdout"}).outputs.at(0).format, &output_format("svg"));

    std::string e = bad({"-o", "a.txt", "--format", "pdf"});
    for (const char* part : {"'pdf'", "callgrind", "folded", "svg"}) EXPECT_TRUE(contains(e, part)) << e;
    EXPECT_TRUE(contains(bad({"--format", "svg"}), "no -o was given"));
    EXPECT_TRUE(contains(bad({"--format"}), "--format needs a value"));
    EXPECT_TRUE(contains(bad({"-o", "a", "--format", "svg", "--format", "folded"}), "more than once"));
}

TEST(CommandLine, Hz) {
    EXPECT_EQ(ok({"--hz", "1"}).hz, 1u);
    EXPECT_EQ(ok({"--hz", "10000"}).hz, 10000u);
    EXPECT_EQ(ok({"--hz=499"}).hz, 499u);
    for (const char* v : {"0", "10001", "-5", "99.5", "abc", "1e3", "4294967296", "+5"}) {
        std::string e = bad({"--hz", v});
        EXPECT_TRUE(contains(e, "--hz must be a whole number from 1 to 10000, got '" + std::string(v) + "'")) << e;
    }
    EXPECT_TRUE(contains(bad({"--hz"}), "--hz needs a value"));
}

TEST(CommandLine, Clock) {
    EXPECT_EQ(ok({"--clock", "cpu"}).clock, Clock::cpu);
    EXPECT_EQ(ok({"--clock", "wall"}).clock, Clock::wall);
    EXPECT_EQ(ok({"--clock=wall"}).clock, Clock::wall);
    for (const char* v : {"WALL", "real", "off-cpu"}) {
        std::string e = bad({"--clock", v});
        EXPECT_TRUE(contains(e, "--clock must be cpu or wall, got '" + std::string(v) + "'")) << e;
    }
}

TEST(CommandLine, GroupBy) {
    EXPECT_EQ(ok({}).group_by, GroupBy::code);
    EXPECT_EQ(ok({"--group-by", "thread"}).group_by, GroupBy::thread);
    EXPECT_EQ(ok({"--group-by=code"}).group_by, GroupBy::code);
    EXPECT_EQ(ok({"--group-by", "task"}).group_by, GroupBy::task);
    for (const char* v : {"threads", "greenlet-ish", "Thread", "tasks"}) {
        std::string e = bad({"--group-by", v});
        EXPECT_TRUE(contains(e, "--group-by must be code, thread, greenlet or task, got '" + std::string(v) + "'"))
            << e;
    }
    EXPECT_TRUE(contains(bad({"--group-by", "thread", "--group-by", "code"}), "--group-by is given more than once"));
}

TEST(CommandLine, Quiet) {
    EXPECT_TRUE(ok({"-q"}).quiet);
    EXPECT_TRUE(ok({"--quiet"}).quiet);
    EXPECT_TRUE(ok({"-q", "-q"}).quiet);
    EXPECT_TRUE(contains(bad({"--quiet=yes"}), "--quiet takes no value"));
}

TEST(CommandLine, UnknownOptionsAreOneLineErrors) {
    EXPECT_TRUE(contains(bad({"--bogus"}), "unknown option '--bogus'"));
    EXPECT_TRUE(contains(bad({"--bogus=3"}), "unknown option '--bogus'"));
    EXPECT_TRUE(contains(bad({"-x"}), "unknown option '-x'"));
    EXPECT_TRUE(contains(bad({"-qx"}), "unknown option '-x'"));
    EXPECT_TRUE(contains(bad({"-3"}), "unknown option '-3'"));
    EXPECT_TRUE(contains(bad({"--pi", "3"}), "unknown option '--pi'"));  // no abbreviations
    EXPECT_TRUE(contains(bad({"-"}), "unexpected argument '-'"));
    EXPECT_TRUE(contains(bad({""}), "unexpected argument ''"));
    EXPECT_TRUE(contains(bad({"--bogus"}), "(see --help)"));
}

// record, dump and top are words, never programs to launch ("pyasynctrace top -p PID" once ran the
// system top under the tracer and wrote an empty profile); "-- top" still launches top.
TEST(CommandLine, SubcommandWordsNeverLaunchAProgram) {
    Options record = ok({"record", "-p", "42", "--hz", "10"});
    EXPECT_EQ(record.mode, TargetMode::attach_pid);
    EXPECT_EQ(record.pid, 42);
    EXPECT_EQ(record.hz, 10u);
    EXPECT_EQ(ok({"record", "--", "python3", "app.py"}).command, (std::vector<std::string>{"python3", "app.py"}));
    EXPECT_EQ(ok({"record"}).mode, TargetMode::all_processes);
    for (const char* word : {"dump", "top"}) {
        std::string message = bad({word, "-p", "42"});
        EXPECT_TRUE(contains(message, fmt::format("'pyasynctrace {}' is not in this version yet", word))) << message;
        EXPECT_TRUE(contains(bad({word, "--help"}), "reserved"));
        EXPECT_TRUE(contains(bad({"--hz", "10", word}), "names a subcommand and goes first")) << word;
        Options launched = ok({"--", word, "-b"});
        EXPECT_EQ(launched.mode, TargetMode::launch);
        EXPECT_EQ(launched.command, (std::vector<std::string>{word, "-b"}));
    }
    EXPECT_TRUE(contains(bad({"-p", "42", "record"}), "names a subcommand"));
    Options program = ok({"python3", "top"});  // a program's own arguments are its own
    EXPECT_EQ(program.command, (std::vector<std::string>{"python3", "top"}));
    EXPECT_TRUE(contains(parse({"--help"}).message, "\"record\", \"dump\" and \"top\""));
}

TEST(CommandLine, Version) {
    for (const char* flag : {"-V", "--version"}) {
        CliResult r = parse({flag});
        EXPECT_FALSE(r.options);
        EXPECT_EQ(r.exit_code, 0);
        EXPECT_EQ(r.message, std::string("pyasynctrace ") + PYAT_VERSION);
    }
}

TEST(CommandLine, HelpSaysWhatEndsARunAndWhatTheExitCodeMeans) {
    std::string flat;
    for (char c : parse({"--help"}).message) {
        if (!std::isspace(static_cast<unsigned char>(c)))
            flat += c;
        else if (!flat.empty() && flat.back() != ' ')
            flat += ' ';
    }
    for (const char* part : {"SIGTERM", "SIGHUP", "SIGPIPE", "passes it on", "up to 10 s", "leaves it running",
                             "Exit code:", "128+N", "1: the tracer failed", "2: a bad command line",
                             "never left stopped", "pyat-guard"})
        EXPECT_TRUE(contains(flat, part)) << "help lacks '" << part << "'";
}

TEST(CommandLine, HelpTeachesEveryOption) {
    CliResult r = parse({"--help"});
    ASSERT_FALSE(r.options);
    EXPECT_EQ(r.exit_code, 0);
    const std::string& help = r.message;
    // Phrases may be wrapped: compare with runs of white space made one space.
    std::string flat;
    for (char c : help) {
        if (!std::isspace(static_cast<unsigned char>(c)))
            flat += c;
        else if (!flat.empty() && flat.back() != ' ')
            flat += ' ';
    }
    for (const char* part :
         {"-p,--pid PID", "-d,--duration SECONDS", "-o,--output PATH", "--format FORMAT", "--hz N", "--clock cpu|wall",
          "-q,--quiet", "-V,--version", "-h,--help",
          // the three ways to run it
          "-p PID", "-- CMD [ARGS...]", "every CPython process on the host", "including ones that start during the run",
          "exit with CMD's exit code",
          // formats
          "*.callgrind", "callgrind.out", "*.folded", "*.svg", "callgrind, folded, svg or jsonl",
          // why 99 Hz
          "default 99", "lock-step with 100 Hz timers", "1000 samples per busy thread in 10 s", "fraction of a percent",
          // clocks
          "on-CPU time only", "off-CPU time", "blocked, sleeping, waiting on I/O", "sampled the same way",
          // default outputs and stopping
          "pyasynctrace.<pid>.callgrind", "pyasynctrace.<pid>.svg", ".<pid> appended", "Ctrl-C", "second Ctrl-C",
          "quits at once", "Examples:", "sudo pyasynctrace -p 4242 -d 30",
          "sudo pyasynctrace -o prof.svg -o prof.folded -- python3 app.py",
          "sudo pyasynctrace --clock wall -d 10 -o all.callgrind"})
        EXPECT_TRUE(contains(flat, part)) << "help lacks '" << part << "':\n" << help;
    // Every option's description shows an example ("e.g. ...").
    size_t examples = 0;
    for (size_t at = help.find("e.g."); at != std::string::npos; at = help.find("e.g.", at + 1)) examples++;
    EXPECT_GE(examples, 7u) << help;
    // Fits a terminal.
    std::istringstream lines(help);
    std::string line;
    while (std::getline(lines, line)) EXPECT_LE(line.size(), 100u) << line;

    // -h anywhere among our options, even next to a mistake, is help; after the command it is the
    // command's.
    for (auto args : std::vector<std::vector<const char*>>{{"-h"}, {"-p", "abc", "-h"}, {"--bogus", "--help"}, {"-qh"}}) {
        CliResult h = parse(args);
        EXPECT_EQ(h.exit_code, 0);
        EXPECT_EQ(h.message, help);
    }
    EXPECT_EQ(ok({"--", "python3", "-h"}).command, (std::vector<std::string>{"python3", "-h"}));
}

}  // namespace

TEST(CommandLine, DeferredLogWritesToAnEventLog) {
    Options asked = ok({"--deferred-log", "-o", "d.jsonl", "-p", "42"});
    EXPECT_TRUE(asked.deferred_log);
    EXPECT_FALSE(asked.deferred_log_by_default);
    // An event log without a blocking report: the lifecycle is what it holds.
    Options implied = ok({"-o", "d.jsonl", "-p", "42"});
    EXPECT_TRUE(implied.deferred_log);
    EXPECT_TRUE(implied.deferred_log_by_default);
    EXPECT_FALSE(ok({"-o", "d.jsonl", "--block-threshold", "50", "-p", "42"}).deferred_log);
    EXPECT_FALSE(ok({"-o", "d.jsonl", "--clock", "wall", "-p", "42"}).deferred_log);
    EXPECT_FALSE(ok({"-o", "d.jsonl", "--no-deferred-log", "-p", "42"}).deferred_log);
    EXPECT_FALSE(ok({"-o", "d.svg", "-p", "42"}).deferred_log);
    EXPECT_TRUE(ok({"-o", "d.jsonl", "--block-threshold", "50", "--deferred-log", "-p", "42"}).deferred_log);
    EXPECT_TRUE(contains(bad({"--deferred-log", "--no-deferred-log", "-o", "d.jsonl", "-p", "42"}), "contradict"));
    EXPECT_TRUE(contains(bad({"--deferred-log", "-p", "42"}), "add -o FILE.jsonl"));
    EXPECT_TRUE(contains(bad({"--deferred-log", "-o", "x.svg", "-p", "42"}), "add -o FILE.jsonl"));
    EXPECT_TRUE(contains(parse({"--help"}).message, "--deferred-log"));
}

TEST(CommandLine, AsyncioStepsGoWithTheWallClock) {
    EXPECT_TRUE(ok({"--clock", "wall", "--asyncio-steps", "-p", "42"}).asyncio_steps);
    EXPECT_FALSE(ok({"--clock", "wall", "-p", "42"}).asyncio_steps);
    EXPECT_TRUE(contains(bad({"--asyncio-steps", "-p", "42"}), "goes with --clock wall"));
    EXPECT_TRUE(contains(bad({"--asyncio-steps", "--clock", "cpu", "-p", "42"}), "goes with --clock wall"));
    EXPECT_TRUE(contains(parse({"--help"}).message, "--asyncio-steps"));
    // A word of a launched command, not ours.
    Options launched = ok({"--clock", "wall", "--", "python3", "--asyncio-steps"});
    EXPECT_FALSE(launched.asyncio_steps);
}

TEST(CommandLine, ModeTraceFollowsOneProcessAndTakesFilters) {
    Options o = ok({"--mode", "trace", "--filter", "*/app/*", "--filter", "Handler.*", "-p", "42"});
    EXPECT_TRUE(o.trace);
    EXPECT_EQ(o.filters, (std::vector<std::string>{"*/app/*", "Handler.*"}));
    EXPECT_FALSE(ok({"--mode", "sample", "-p", "42"}).trace);
    EXPECT_TRUE(contains(bad({"--mode", "trace"}), "-p PID or a command"));
    EXPECT_TRUE(contains(bad({"--mode", "fast", "-p", "42"}), "sample or trace"));
    EXPECT_TRUE(contains(bad({"--filter", "x", "-p", "42"}), "--mode trace"));
    EXPECT_TRUE(contains(bad({"--mode", "trace", "--clock", "wall", "-p", "42"}), "--mode sample"));
    EXPECT_TRUE(contains(bad({"--mode", "trace", "-o", "x.jsonl", "-p", "42"}), "not an event log"));
    EXPECT_TRUE(contains(parse({"--help"}).message, "--mode"));
}

TEST(CommandLine, SubprocessesBelongsToAnAttachedProcess) {
    EXPECT_FALSE(ok({"-p", "42"}).subprocesses);
    EXPECT_TRUE(ok({"-p", "42", "--subprocesses"}).subprocesses);
    EXPECT_TRUE(contains(bad({"--subprocesses", "--", "python3", "app.py"}), "always followed"));
    EXPECT_TRUE(contains(bad({"--subprocesses"}), "host-wide"));
    EXPECT_TRUE(contains(bad({"--mode", "trace", "-p", "42", "--subprocesses"}), "--mode sample"));
    EXPECT_TRUE(contains(parse({"--help"}).message, "--subprocesses"));
}

// The command line knows the formats from the writers' registry only: each one is accepted by
// --format NAME and told from its name patterns, and --help and the errors list it.
TEST(CommandLine, EveryRegisteredFormatIsReachableAndListed) {
    ASSERT_GE(output_formats().size(), 4u);
    const std::string help = parse({"--help"}).message;
    const std::string unknown = bad({"-o", "x", "--format", "nope"});
    const std::string untold = bad({"-o", "x.unknown"});
    for (const auto& f : output_formats()) {
        const std::string name(f.name);
        EXPECT_EQ(find_output_format(name), &f);
        EXPECT_EQ(ok({"-o", "x", "--format", name.c_str()}).outputs.at(0).format, &f) << name;
        for (std::string_view suffix : f.suffixes) {
            const std::string path = "dir/prof" + std::string(suffix);
            EXPECT_EQ(format_from_name(path), &f) << path;
            EXPECT_TRUE(contains(untold, "*" + std::string(suffix))) << untold;
        }
        if (!f.name_prefix.empty()) {
            EXPECT_EQ(format_from_name(std::string(f.name_prefix) + ".1"), &f);
        }
        EXPECT_TRUE(contains(unknown, name)) << unknown;
        EXPECT_TRUE(contains(help, name)) << name;
        EXPECT_NE(f.write_profile == nullptr, f.write_process == nullptr) << name << ": exactly one writer";
    }
    EXPECT_EQ(find_output_format("nope"), nullptr);
}
