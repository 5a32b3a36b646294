// pyasynctrace: sample the Python stacks of running CPython processes with BPF.
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "cli.h"
#include "error.h"
#include "session.h"
#include "trace_session.h"
#include "unfailing_stderr.h"

int main(int argc, char** argv) {
    pyat::make_stderr_unfailing();
    pyat::CliResult cli = pyat::parse_command_line(argc, argv);
    if (!cli.options) {
        std::FILE* out = cli.exit_code == 0 ? stdout : stderr;
        fmt::print(out, "{}\n", cli.message);
        return cli.exit_code;
    }
    try {
        return cli.options->trace ? pyat::run_trace_session(*cli.options) : pyat::run_session(*cli.options);
    } catch (const pyat::Error& e) {
        fmt::print(stderr, "pyasynctrace: error: {}\n", e.what());
    } catch (const std::exception& e) {
        fmt::print(stderr, "pyasynctrace: internal error: {}\n", e.what());
    }
    return 1;
}
