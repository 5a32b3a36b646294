#include "app/help_text.h"

#include <memory>
#include <sstream>

namespace pyat {

namespace {

constexpr size_t name_column = 26;   // help: width of the option-name column
constexpr size_t text_column = 52;   // help: width of the description column (80 columns in all)

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

const char* const synopsis =
    "Usage:\n"
    "  pyasynctrace [OPTIONS] -p PID            attach to a running process\n"
    "  pyasynctrace [OPTIONS] -- CMD [ARGS...]  launch CMD under the tracer; exit with CMD's exit\n"
    "                                           code (\"--\" may be left out when CMD does not\n"
    "                                           start with \"-\")\n"
    "  pyasynctrace [OPTIONS]                   every CPython process on the host, including ones\n"
    "                                           that start during the run\n"
    "  (\"pyasynctrace record ...\" is the same; \"record\", \"dump\" and \"top\" as the first word\n"
    "  name subcommands, never a program to launch: \"-- top\" launches top)\n";

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

}  // namespace

void use_help_layout(CLI::App& app) {
    app.formatter(std::make_shared<HelpFormatter>());
    app.get_formatter()->column_width(name_column);
    app.footer(footer);
}

std::string describe(std::string_view text, std::string_view example) {
    return wrap(text, text_column) + "\n" + wrap("e.g. " + std::string(example), text_column);
}

}  // namespace pyat
