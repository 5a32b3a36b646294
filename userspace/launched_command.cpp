#include "launched_command.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "error.h"

namespace pyat {

LaunchedCommand::LaunchedCommand(const std::vector<std::string>& argv) {
    if (argv.empty()) throw Error("no command to launch");
    program_ = argv.front();
    int gate[2], err[2];
    if (pipe2(gate, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        throw Error(fmt::format("cannot create a pipe: {}", strerror(errno)));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    pid_ = fork();
    if (pid_ < 0) throw Error(fmt::format("cannot fork: {}", strerror(errno)));
    if (pid_ == 0) {
        // Child: only async-signal-safe calls from here on.
        close(gate[1]);
        close(err[0]);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        char go;
        if (read(gate[0], &go, 1) != 1) _exit(127);  // the tracer went away before releasing us
        execvp(args[0], args.data());
        int e = errno;
        ssize_t ignored = write(err[1], &e, sizeof(e));
        (void)ignored;
        _exit(127);
    }
    close(gate[0]);
    close(err[1]);
    gate_.reset(gate[1]);
    exec_error_.reset(err[0]);
}

LaunchedCommand::~LaunchedCommand() {
    if (pid_ > 0 && !exited()) {
        if (!released_) kill(pid_, SIGKILL);
        gate_.reset();
        if (!released_) waitpid(pid_, nullptr, 0);
    }
}

void LaunchedCommand::release() {
    char go = 1;
    if (write(gate_.get(), &go, 1) != 1) throw Error(fmt::format("cannot start '{}': {}", program_, strerror(errno)));
    released_ = true;
    gate_.reset();
    int e = 0;
    ssize_t n = read(exec_error_.get(), &e, sizeof(e));  // EOF when exec succeeded
    exec_error_.reset();
    if (n == sizeof(e)) {
        reap();
        while (!exited()) {
            int status = 0;
            if (waitpid(pid_, &status, 0) == pid_) exit_code_ = 127;
        }
        throw Error(fmt::format("cannot run '{}': {}", program_, strerror(e)));
    }
}

bool LaunchedCommand::reap() {
    if (exited()) return true;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r != pid_) return false;
    if (WIFEXITED(status))
        exit_code_ = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        exit_code_ = 128 + WTERMSIG(status);
    else
        return false;
    return true;
}

}  // namespace pyat
