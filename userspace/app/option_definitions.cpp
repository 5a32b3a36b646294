#include "app/option_definitions.h"

#include <fmt/format.h>

#include "app/help_text.h"

namespace pyat {

namespace {

#ifndef PYAT_VERSION
#define PYAT_VERSION "dev"
#endif

// -o's help: every format's name patterns and help line.
std::string output_help() {
    std::string text = "write a profile to PATH; repeat for several. The format follows the name: ";
    for (size_t i = 0; i < output_formats().size(); i++) {
        const OutputFormat& f = output_formats()[i];
        text += fmt::format("{}{} -> {}", i ? "; " : "", listing(name_patterns(f), " or "), f.help);
    }
    return text + ". Default: see Outputs below.";
}

}  // namespace

std::string listing(const std::vector<std::string>& items, std::string_view last) {
    std::string out;
    for (size_t i = 0; i < items.size(); i++)
        out += (i == 0 ? "" : i + 1 == items.size() ? std::string(last) : ", ") + items[i];
    return out;
}

std::vector<std::string> format_names(bool stacks_only) {
    std::vector<std::string> names;
    for (const auto& f : output_formats())
        if (!stacks_only || !f.event_log) names.emplace_back(f.name);
    return names;
}

std::vector<std::string> name_patterns(const OutputFormat& f) {
    std::vector<std::string> patterns;
    for (std::string_view suffix : f.suffixes) patterns.push_back("*" + std::string(suffix));
    if (!f.name_prefix.empty()) patterns.push_back(std::string(f.name_prefix) + "*");
    return patterns;
}

void define_options(CLI::App& app, RawOptions& p) {
    use_help_layout(app);
    app.set_help_flag("-h,--help", "print this help and exit");
    app.set_version_flag("-V,--version", std::string("pyasynctrace ") + PYAT_VERSION, "print the version and exit");
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
    option("--group-by", p.group_by, "code|thread|greenlet|task",
           "code (default): stacks of the same code merge, whichever thread or greenlet ran them. "
           "thread: each stack starts at a frame naming its thread, thread \"worker-1\" [4243] (the "
           "Python name from threading, else just the TID). greenlet: at a frame naming its "
           "greenlet, greenlet 7 (handle_client): its number in order of appearance and the "
           "function it runs (hooks greenlet's switch, like --clock wall). task: at a frame naming "
           "its asyncio task, task \"poller-2\" (poller): its name (Task-N unless the program named "
           "it) and its coroutine's function.",
           "--group-by thread --clock wall to see what every thread waits on");
    option("--block-threshold", p.block_threshold, "MS",
           "report every greenlet that runs longer than MS milliseconds without switching, i.e. "
           "blocks gevent's hub and every other greenlet of its thread (default 100, as gevent's "
           "monitor), and every Twisted reactor or asyncio event-loop iteration (the time between "
           "two polls: one callback or a run of them) longer than MS: with its stack (and task), in -o *.jsonl (every one), "
           "and on a terminal (the first 5 as they happen; at the end the 10 longest and how many "
           "there were). On whenever greenlet switches are hooked (--clock "
           "wall, --group-by greenlet); giving it hooks them in --clock cpu too. A hooked switch "
           "costs the target about 5 us; watching the reactor's polls costs it nothing.",
           "--block-threshold 50 -o blocks.jsonl");
    app.add_flag("--raw-stacks", p.raw_stacks,
                 describe("show Twisted @inlineCallbacks code and asyncio tasks as the interpreter runs "
                          "them (under the reactor, _inlineCallbacks, gotResult..., or the event loop's "
                          "_run_once and Handle._run) instead of the logical stacks: by default a "
                          "generator shows under the code that called it and the generators waiting "
                          "for it, and a task under the tasks awaiting it, with the trampolines and "
                          "the loop's plumbing hidden.",
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
    app.add_flag("--asyncio-steps", p.asyncio_steps,
                 describe("with --clock wall: hook the moment every asyncio task resumes (an entry uprobe "
                          "on the C Task's step), so that each wait ends exactly when its task ran again "
                          "instead of at the next scan of the tasks; costs the target about 1 us a step. "
                          "Without it the waits come from scans alone, which cost the target nothing.",
                          "--clock wall --asyncio-steps"));
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
    RawOptions unused;
    define_options(app, unused);
    return app.help();
}

}  // namespace pyat
