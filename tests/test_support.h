// Helpers shared by the unit and live tests: running programs, temp dirs, reading profiles.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace pyat::test {

inline const std::string binary = PYAT_BINARY;
inline const std::string source_dir = PYAT_SOURCE_DIR;
inline const std::string debian_python = "/usr/bin/python3.11";
inline std::string workload(const std::string& name) { return source_dir + "/tests/workloads/" + name; }

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "pyat-test-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A child process with its stdout and stderr captured through pipes.
class Child {
public:
    explicit Child(const std::vector<std::string>& argv, bool new_process_group = false) {
        int out[2], err[2], execed[2];
        if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(execed, O_CLOEXEC))
            throw std::runtime_error("pipe failed");
        pid_ = fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            if (new_process_group) setpgid(0, 0);
            dup2(out[1], 1);
            dup2(err[1], 2);
            int devnull = open("/dev/null", O_RDONLY);
            dup2(devnull, 0);
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            execvp(args[0], args.data());
            (void)!write(execed[1], "x", 1);
            _exit(127);
        }
        close(out[1]);
        close(err[1]);
        // Returns once the child runs the program (the pipe closes on exec), so a test never
        // looks at it while it is still a copy of the test.
        close(execed[1]);
        char failed;
        while (read(execed[0], &failed, 1) < 0 && errno == EINTR) {
        }
        close(execed[0]);
        out_fd_ = out[0];
        err_fd_ = err[0];
    }
    ~Child() {
        if (pid_ > 0 && !status_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        close(out_fd_);
        close(err_fd_);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    const std::string& out() const { return out_; }
    const std::string& err() const { return err_; }

    // Reads output until `needle` shows up on stdout (or stderr if on_stderr) or the timeout passes.
    bool wait_for_output(const std::string& needle, double timeout_s, bool on_stderr = false) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        while (std::chrono::steady_clock::now() < deadline) {
            if ((on_stderr ? err_ : out_).find(needle) != std::string::npos) return true;
            if (!pump(50)) {
                if ((on_stderr ? err_ : out_).find(needle) != std::string::npos) return true;
                if (exited_now()) return false;
            }
        }
        return (on_stderr ? err_ : out_).find(needle) != std::string::npos;
    }

    // Waits for exit (killing it after the timeout); returns the exit code, 128+signal if killed.
    int wait(double timeout_s) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        while (!status_) {
            pump(50);
            if (exited_now()) break;
            if (std::chrono::steady_clock::now() > deadline) {
                kill(pid_, SIGKILL);
                timed_out_ = true;
            }
        }
        while (pump(0)) {
        }
        int s = *status_;
        return WIFEXITED(s) ? WEXITSTATUS(s) : 128 + WTERMSIG(s);
    }
    bool timed_out() const { return timed_out_; }
    long max_rss_kb() const { return max_rss_kb_; }  // peak resident memory, once exited
    void signal(int sig) { kill(pid_, sig); }

private:
    bool exited_now() {
        if (status_) return true;
        int s = 0;
        struct rusage usage {};
        if (wait4(pid_, &s, WNOHANG, &usage) == pid_) {
            status_ = s;
            max_rss_kb_ = usage.ru_maxrss;
        }
        return status_.has_value();
    }
    // Reads what is available; false if nothing came within timeout_ms.
    bool pump(int timeout_ms) {
        pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
        if (poll(fds, 2, timeout_ms) <= 0) return false;
        bool got = false;
        char buf[65536];
        for (int i = 0; i < 2; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
            ssize_t n = read(fds[i].fd, buf, sizeof(buf));
            if (n > 0) {
                (i == 0 ? out_ : err_).append(buf, size_t(n));
                got = true;
            }
        }
        return got;
    }

    pid_t pid_ = -1;
    int out_fd_ = -1, err_fd_ = -1;
    std::string out_, err_;
    std::optional<int> status_;
    bool timed_out_ = false;
    long max_rss_kb_ = 0;
};

struct RunResult {
    int exit_code;
    std::string out, err;
    long max_rss_kb = 0;
};

inline RunResult run(const std::vector<std::string>& argv, double timeout_s = 60) {
    Child c(argv);
    int code = c.wait(timeout_s);
    return {code, c.out(), c.err(), c.max_rss_kb()};
}

// A Python workload that prints "ready <pid>" once running.
class Workload : public Child {
public:
    explicit Workload(const std::vector<std::string>& argv) : Child(argv) {
        if (!wait_for_output("ready", 30)) throw std::runtime_error("workload did not start: " + argv.back());
    }
};

// `target` waits for SIGUSR1 before its scripted work: once `tracer` has printed `ready_note` on
// stderr (it is attached), lets it go and waits for both to exit. "" when all went well, else what
// went wrong.
inline std::string release_and_wait(Workload& target, Child& tracer, const std::string& ready_note) {
    if (!tracer.wait_for_output(ready_note, 30, true))
        return "the tracer never printed '" + ready_note + "': " + tracer.err();
    target.signal(SIGUSR1);
    if (int code = target.wait(60)) return "the workload exited with " + std::to_string(code) + ": " + target.err();
    if (int code = tracer.wait(60)) return "the tracer exited with " + std::to_string(code) + ": " + tracer.err();
    return "";
}

// folded file -> stack -> count
inline std::map<std::string, uint64_t> read_folded(const std::string& path) {
    std::map<std::string, uint64_t> stacks;
    std::istringstream in(read_file(path));
    std::string line;
    while (std::getline(in, line)) {
        auto space = line.rfind(' ');
        if (space == std::string::npos) throw std::runtime_error("bad folded line: " + line);
        stacks[line.substr(0, space)] += std::stoull(line.substr(space + 1));
    }
    return stacks;
}

inline std::vector<std::string> split_frames(const std::string& stack) {
    std::vector<std::string> frames;
    std::istringstream in(stack);
    std::string f;
    while (std::getline(in, f, ';')) frames.push_back(f);
    return frames;
}

inline bool frame_is(const std::string& frame, const std::string& function) {
    return frame == function || frame.rfind(function + " (", 0) == 0;
}

// Samples whose stack contains `function` anywhere (inclusive) / as the leaf (self).
inline uint64_t inclusive(const std::map<std::string, uint64_t>& folded, const std::string& function) {
    uint64_t n = 0;
    for (const auto& [stack, count] : folded)
        for (const auto& f : split_frames(stack))
            if (frame_is(f, function)) {
                n += count;
                break;
            }
    return n;
}

inline uint64_t self(const std::map<std::string, uint64_t>& folded, const std::string& function) {
    uint64_t n = 0;
    for (const auto& [stack, count] : folded)
        if (frame_is(split_frames(stack).back(), function)) n += count;
    return n;
}

// Function names of a folded stack's frames ("name (file:line)" -> "name"), root first.
inline std::vector<std::string> function_names(const std::string& stack) {
    std::vector<std::string> names;
    for (const auto& f : split_frames(stack)) names.push_back(f.substr(0, f.find(" (")));
    return names;
}

inline bool has(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

inline uint64_t total(const std::map<std::string, uint64_t>& folded) {
    uint64_t n = 0;
    for (const auto& [stack, count] : folded) n += count;
    return n;
}

}  // namespace pyat::test

namespace pyat::test {

// Self cost per (function name, line) from a callgrind file, following name compression
// ("fn=(3) name" then "fn=(3)") and skipping the cost line that follows each calls= line.
inline std::map<std::pair<std::string, int>, uint64_t> callgrind_self_costs(const std::string& path) {
    std::map<std::pair<std::string, int>, uint64_t> costs;
    std::map<std::string, std::string> names;  // "(3)" -> name
    std::istringstream in(read_file(path));
    std::string line, fn;
    bool after_calls = false;
    auto resolve = [&](const std::string& spec) {
        auto close = spec.find(')');
        if (spec.empty() || spec[0] != '(' || close == std::string::npos) return spec;
        std::string id = spec.substr(0, close + 1);
        if (close + 1 < spec.size()) names[id] = spec.substr(close + 2);
        return names[id];
    };
    while (std::getline(in, line)) {
        if (line.rfind("fn=", 0) == 0) {
            fn = resolve(line.substr(3));
        } else if (line.rfind("cfn=", 0) == 0) {
            resolve(line.substr(4));
        } else if (line.rfind("calls=", 0) == 0) {
            after_calls = true;
        } else if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) {
            if (after_calls) {
                after_calls = false;
                continue;
            }
            std::istringstream fields(line);
            int l;
            uint64_t c;
            if (fields >> l >> c) costs[{fn, l}] += c;
        }
    }
    return costs;
}

}  // namespace pyat::test
