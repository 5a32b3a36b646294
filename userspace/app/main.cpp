// pyasynctrace: sample the Python stacks of running CPython processes with BPF.
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "app/cli.h"
#include "base/error.h"
#include "app/session.h"
#include "base/text_encoding.h"
#include "app/trace_session.h"
#include "app/unfailing_stderr.h"

int main(int argc, char** argv) {
    pyat::make_stderr_unfailing();
    pyat::CliResult cli = pyat::parse_command_line(argc, argv);
    if (!cli.options) {
        // Help and version to stdout; an error is one line on stderr, whatever the arguments held.
        if (cli.exit_code == 0)
            fmt::print(stdout, "{}\n", cli.message);
        else
            fmt::print(stderr, "{}\n", pyat::printable_text(cli.message));
        return cli.exit_code;
    }
    try {
        return cli.options->trace ? pyat::run_trace_session(*cli.options) : pyat::run_session(*cli.options);
    } catch (const pyat::Error& e) {
        fmt::print(stderr, "pyasynctrace: error: {}\n", pyat::printable_text(e.what()));  // one line, whatever it quotes
    } catch (const std::exception& e) {
        fmt::print(stderr, "pyasynctrace: internal error: {}\n", pyat::printable_text(e.what()));
    }
    return 1;
}
