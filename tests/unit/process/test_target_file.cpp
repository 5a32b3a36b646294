// TargetFile: a target's files read without re-opening a name its user controls (deleted mappings
// through map_files, FIFOs and links refused without blocking), and ElfFile on top of it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "process/elf_file.h"
#include "base/error.h"
#include "process/proc_maps.h"
#include "process/target_file.h"
#include "test_support.h"
#include "base/unique_fd.h"

using namespace pyat;
using namespace pyat::test;

namespace {

const std::string libpython312 = "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0";

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Runs `check` in a child process (an open that blocks would hang this one for good): "" when it
// returned "" within 10 s, else what it returned, or that it hung.
std::string in_child(const std::function<std::string()>& check) {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC)) return "pipe failed";
    pid_t pid = fork();
    if (pid == 0) {
        close(pipe_fds[0]);
        std::string result = check();
        if (write(pipe_fds[1], result.data(), result.size()) < 0) _exit(2);
        _exit(0);
    }
    close(pipe_fds[1]);
    UniqueFd out(pipe_fds[0]);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return "blocked for 10 s (killed)";
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::string result;
    char buf[4096];
    for (ssize_t n; (n = read(out.get(), buf, sizeof(buf))) > 0;) result.append(buf, size_t(n));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) result += " (the check crashed)";
    return result;
}

// A copy of libpython mapped read-only into this process, as the loader would map it.
class MappedCopy {
public:
    explicit MappedCopy(const TempDir& dir) : path_(dir / "libpython3.12.so.1.0") {
        std::filesystem::copy_file(libpython312, path_);
        UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
        size_ = size_t(std::filesystem::file_size(path_));
        address_ = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    }
    ~MappedCopy() {
        if (address_ != MAP_FAILED) munmap(address_, size_);
    }
    bool ok() const { return address_ != MAP_FAILED; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    size_t size_ = 0;
    void* address_ = MAP_FAILED;
};

// Drops CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE from this process's effective set (in a child):
// /proc/PID/map_files is then refused, as for a user with only CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE.
bool drop_map_files_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &header, data)) return false;
    data[21 / 32].effective &= ~(1u << (21 % 32));  // CAP_SYS_ADMIN
    data[40 / 32].effective &= ~(1u << (40 % 32));  // CAP_CHECKPOINT_RESTORE
    return syscall(SYS_capset, &header, data) == 0;
}

TEST(TargetFileTest, FifoIsRefusedAtOnceNeverOpenedForReading) {
    TempDir dir;
    const std::string fifo = dir / "python3.11";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
    // Nobody ever writes to it: an open(O_RDONLY) of it blocks for good.
    std::string failures = in_child([&] {
        std::string why;
        for (auto& [what, open] : std::vector<std::pair<std::string, std::function<void()>>>{
                 {"ElfFile::open", [&] { ElfFile::open(fifo); }},
                 {"TargetFile::at", [&] { TargetFile::at(fifo); }},
                 {"TargetFile::in_root", [&] { TargetFile::in_root(getpid(), fifo); }}}) {
            std::string e = error_of(open);
            if (!contains(e, fifo + " is a FIFO, not a regular file")) why += what + ": " + e + "\n";
        }
        return why;
    });
    EXPECT_EQ(failures, "");
}

TEST(TargetFileTest, DevicesAndDirectoriesAreRefusedWithOneLine) {
    for (const std::string path : {"/dev/null", "/dev/tty", "/tmp"}) {
        std::string e = in_child([&] { return error_of([&] { TargetFile::at(path); }); });
        EXPECT_TRUE(contains(e, path + " is a ")) << e;
        EXPECT_TRUE(contains(e, "not a regular file")) << e;
        EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 0) << e;
    }
}

TEST(TargetFileTest, InRootFollowsNoSymbolicLink) {
    TempDir dir;
    std::ofstream(dir / "__init__.py") << "__version__ = '2.0.2'\n";
    std::filesystem::create_symlink("/etc/passwd", dir / "link.py");
    TargetFile init = TargetFile::in_root(getpid(), dir / "__init__.py");
    EXPECT_EQ(init.read(0, init.size()).value_or(""), "__version__ = '2.0.2'\n");
    std::string e = error_of([&] { TargetFile::in_root(getpid(), dir / "link.py"); });
    EXPECT_TRUE(contains(e, dir / "link.py")) << e;
    EXPECT_FALSE(contains(e, "(no error)")) << e;
}

// After an upgrade the mapped file is gone from disk (maps says " (deleted)") and something else
// may sit at its name, here a FIFO: the mapped file is still read, through map_files.
TEST(TargetFileTest, DeletedMappedFileIsReadAsMappedWhateverIsAtItsName) {
    TempDir dir;
    MappedCopy copy(dir);
    ASSERT_TRUE(copy.ok());
    ASSERT_EQ(unlink(copy.path().c_str()), 0);
    ASSERT_EQ(mkfifo(copy.path().c_str(), 0644), 0);
    const std::string in_maps = copy.path() + " (deleted)";
    std::string failures = in_child([&] {
        try {
            auto maps = read_maps(getpid());
            ElfFile elf = ElfFile::open(TargetFile::mapped(getpid(), maps, in_maps));
            if (elf.path() != copy.path()) return "named " + elf.path();
            if (!elf.find_symbol("_PyRuntime")) return std::string("no _PyRuntime in the mapped file");
            // And usable by libbpf and the kernel: /proc/self/fd/N reaches the same file.
            TargetFile file = TargetFile::mapped(getpid(), maps, in_maps);
            struct stat by_path {}, by_fd {};
            if (stat(file.fd_path().c_str(), &by_path) || fstat(file.fd(), &by_fd) || by_path.st_ino != by_fd.st_ino ||
                !S_ISREG(by_path.st_mode))
                return std::string("fd_path does not name the mapped file");
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    });
    EXPECT_EQ(failures, "");
}

TEST(TargetFileTest, UnmappedPathIsAClearError) {
    std::string e = error_of([] { TargetFile::mapped(getpid(), read_maps(getpid()), "/nowhere/libx.so"); });
    EXPECT_EQ(e, fmt::format("/nowhere/libx.so is not mapped by PID {}", getpid()));
}

// Without the capability map_files needs, a file still on disk is opened inside the process's
// root, and only if it is the very file mapped (device and inode); a deleted one is a clear error.
TEST(TargetFileTest, WithoutMapFilesTheNameIsTrustedOnlyIfItIsTheMappedFile) {
    TempDir dir;
    MappedCopy copy(dir);
    ASSERT_TRUE(copy.ok());
    std::string failures = in_child([&] {
        if (!drop_map_files_capabilities()) return std::string("cannot drop capabilities");
        std::string why;
        for (const auto& m : read_maps(getpid()))
            if (m.path == copy.path() &&
                UniqueFd(::open(fmt::format("/proc/{}/map_files/{:x}-{:x}", getpid(), m.start, m.end).c_str(),
                                O_PATH | O_CLOEXEC)))
                why += "map_files still readable: the fallback is not exercised\n";
        try {
            ElfFile elf = ElfFile::open(TargetFile::mapped(getpid(), copy.path()));
            if (!elf.find_symbol("_PyRuntime")) why += "no _PyRuntime\n";
        } catch (const Error& e) {
            why += std::string("on disk: ") + e.what() + "\n";
        }
        // Replaced on disk by another regular file: refused, not read.
        std::filesystem::remove(copy.path());
        std::ofstream(copy.path()) << "not the mapped file\n";
        std::string e = error_of([&] { TargetFile::mapped(getpid(), copy.path() + " (deleted)"); });
        if (!contains(e, copy.path() + " was deleted on disk after PID") || !contains(e, "CAP_SYS_ADMIN"))
            why += "replaced: " + e + "\n";
        // The executable still reads through /proc/PID/exe, which needs no such capability.
        try {
            ElfFile self = ElfFile::open(TargetFile::executable(getpid()));
            if (self.load_segments().empty()) why += "exe unreadable\n";
        } catch (const Error& e) {
            why += std::string("exe: ") + e.what() + "\n";
        }
        return why;
    });
    EXPECT_EQ(failures, "");
}

TEST(TargetFileTest, ReadsStopAtTheEndOfTheFile) {
    TempDir dir;
    std::ofstream(dir / "f") << "0123456789";
    TargetFile f = TargetFile::at(dir / "f");
    EXPECT_EQ(f.size(), 10u);
    EXPECT_EQ(f.read(2, 3).value_or(""), "234");
    EXPECT_EQ(f.read(0, 10).value_or(""), "0123456789");
    EXPECT_FALSE(f.read(8, 3).has_value());
    EXPECT_FALSE(f.read(11, 0).has_value());
    EXPECT_EQ(without_deleted_suffix("/usr/bin/python3.11 (deleted)"), "/usr/bin/python3.11");
    EXPECT_EQ(without_deleted_suffix("/usr/bin/python3.11"), "/usr/bin/python3.11");
}

}  // namespace
