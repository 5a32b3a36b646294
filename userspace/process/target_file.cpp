#include "process/target_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace pyat {

namespace {

const char* kind_of(mode_t mode) {
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "not a regular file";
}

bool is_file_of(const struct stat& st, const Mapping& m) {
    return st.st_ino == m.inode && major(st.st_dev) == m.dev_major && minor(st.st_dev) == m.dev_minor;
}

// O_PATH: resolves the name without opening what it names (a FIFO does not block, a device's
// open is not called); the file is opened for reading only once it is known to be regular.
UniqueFd open_path(const std::string& path) { return UniqueFd(::open(path.c_str(), O_PATH | O_CLOEXEC)); }

// `path` inside the root directory of PID, following no symbolic link.
UniqueFd open_path_in_root(pid_t pid, const std::string& path) {
    UniqueFd root(::open(fmt::format("/proc/{}/root", pid).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return root;
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return UniqueFd(int(syscall(SYS_openat2, root.get(), path.c_str(), &how, sizeof(how))));
}

}  // namespace

std::string without_deleted_suffix(const std::string& path) {
    constexpr std::string_view suffix = " (deleted)";
    return path.size() > suffix.size() && path.ends_with(suffix) ? path.substr(0, path.size() - suffix.size()) : path;
}

TargetFile TargetFile::open_checked(UniqueFd path_fd, std::string name, const Mapping* expected) {
    struct stat st {};
    if (fstat(path_fd.get(), &st) != 0) throw Error(fmt::format("cannot read {}: {}", name, strerror(errno)));
    if (!S_ISREG(st.st_mode))
        throw Error(fmt::format("{} is {}, not a regular file: not read", name, kind_of(st.st_mode)));
    if (expected && !is_file_of(st, *expected))
        throw Error(fmt::format("{} is not the file the process maps (it was replaced on disk)", name));
    UniqueFd fd(::open(fmt::format("/proc/self/fd/{}", path_fd.get()).c_str(),
                       O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) throw Error(fmt::format("cannot open {}: {}", name, strerror(errno)));
    return TargetFile(std::move(fd), std::move(name), uint64_t(st.st_size));
}

TargetFile TargetFile::mapped(pid_t pid, const std::vector<Mapping>& maps, const std::string& path_in_maps) {
    std::string name = without_deleted_suffix(path_in_maps);
    const Mapping* m = nullptr;
    for (const auto& candidate : maps)
        if (candidate.path == path_in_maps) {
            m = &candidate;
            break;
        }
    if (!m) throw Error(fmt::format("{} is not mapped by PID {}", name, pid));

    // The mapping itself: the file mapped there, whatever its name has become since.
    UniqueFd fd = open_path(fmt::format("/proc/{}/map_files/{:x}-{:x}", pid, m->start, m->end));
    if (fd) return open_checked(std::move(fd), std::move(name), nullptr);
    int err = errno;
    if (err != EPERM && err != EACCES)
        throw Error(fmt::format("cannot read {} as PID {} maps it: {}", name, pid, strerror(err)));
    // Without the capability map_files needs: the executable, or the name, if it is that file.
    if ((fd = open_path(fmt::format("/proc/{}/exe", pid)))) {
        struct stat st {};
        if (fstat(fd.get(), &st) == 0 && is_file_of(st, *m)) return open_checked(std::move(fd), std::move(name), m);
    }
    if (m->deleted())
        throw Error(fmt::format("{} was deleted on disk after PID {} mapped it: reading it through /proc/{}/map_files "
                                "needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE",
                                name, pid, pid));
    if (!(fd = open_path_in_root(pid, name)))
        throw Error(fmt::format("cannot open {} in the root of PID {}: {}", name, pid, strerror(errno)));
    return open_checked(std::move(fd), std::move(name), m);
}

TargetFile TargetFile::mapped(pid_t pid, const std::string& path_in_maps) {
    return mapped(pid, read_maps(pid), path_in_maps);
}

TargetFile TargetFile::executable(pid_t pid) {
    std::string link = fmt::format("/proc/{}/exe", pid);
    UniqueFd fd = open_path(link);
    if (!fd) throw Error(fmt::format("cannot read the executable of PID {}: {}", pid, strerror(errno)));
    std::vector<char> name(4096);
    ssize_t n = readlink(link.c_str(), name.data(), name.size() - 1);
    return open_checked(std::move(fd), n > 0 ? without_deleted_suffix(std::string(name.data(), size_t(n))) : link,
                        nullptr);
}

TargetFile TargetFile::in_root(pid_t pid, const std::string& path) {
    UniqueFd fd = open_path_in_root(pid, path);
    if (!fd) throw Error(fmt::format("cannot open {} in the root of PID {}: {}", path, pid, strerror(errno)));
    return open_checked(std::move(fd), path, nullptr);
}

TargetFile TargetFile::at(const std::string& path) {
    UniqueFd fd = open_path(path);
    if (!fd) throw Error(fmt::format("cannot open {}: {}", path, strerror(errno)));
    return open_checked(std::move(fd), path, nullptr);
}

std::string TargetFile::fd_path() const { return fmt::format("/proc/self/fd/{}", fd_.get()); }

std::optional<std::string> TargetFile::read(uint64_t offset, size_t size) const {
    if (offset > size_ || size > size_ - offset) return std::nullopt;
    std::string bytes(size, '\0');
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd_.get(), bytes.data() + done, size - done, off_t(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;  // shorter than it was, or an I/O error
        done += size_t(n);
    }
    return bytes;
}

}  // namespace pyat
