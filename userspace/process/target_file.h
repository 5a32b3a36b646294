// Opening a file of a traced process without re-opening a name its user controls: a mapped file
// through /proc/PID/map_files/START-END or /proc/PID/exe (which reach it even when it was deleted
// or replaced on disk, e.g. by a package upgrade), any other file inside the process's root;
// only regular files, and never an open that can block (a FIFO planted at the name is refused).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "process/proc_maps.h"
#include "base/unique_fd.h"

namespace pyat {

class TargetFile {
public:
    // The file PID maps at the first mapping whose path is `path_in_maps` (exactly as /proc/PID/maps
    // shows it, " (deleted)" included). Through /proc/PID/map_files when permitted (CAP_SYS_ADMIN or
    // CAP_CHECKPOINT_RESTORE), else /proc/PID/exe or the path inside the process's root, either one
    // checked to be the very file mapped (device and inode). Throws pyat::Error.
    static TargetFile mapped(pid_t pid, const std::vector<Mapping>& maps, const std::string& path_in_maps);
    static TargetFile mapped(pid_t pid, const std::string& path_in_maps);  // reads the maps
    // The executable PID runs, through /proc/PID/exe. Throws pyat::Error.
    static TargetFile executable(pid_t pid);
    // A file the process does not map (e.g. a package's __init__.py beside its extension), by its
    // path as the process sees it: resolved inside the process's root, following no symbolic link
    // (paths from /proc/PID/maps have none). Throws pyat::Error.
    static TargetFile in_root(pid_t pid, const std::string& path);
    // A file named by the user running pyasynctrace (e.g. the program to launch). Throws pyat::Error.
    static TargetFile at(const std::string& path);

    int fd() const { return fd_.get(); }
    // The file as the user knows it (for messages): its path, " (deleted)" dropped.
    const std::string& name() const { return name_; }
    // A path naming this very file for as long as this object lives ("/proc/self/fd/N"), for
    // libbpf and the kernel's uprobes, which take paths.
    std::string fd_path() const;
    uint64_t size() const { return size_; }
    // `size` bytes at file offset `offset`; nullopt if the file is shorter or unreadable.
    std::optional<std::string> read(uint64_t offset, size_t size) const;

private:
    TargetFile(UniqueFd fd, std::string name, uint64_t size) : fd_(std::move(fd)), name_(std::move(name)), size_(size) {}
    static TargetFile open_checked(UniqueFd path_fd, std::string name, const Mapping* expected);

    UniqueFd fd_;
    std::string name_;
    uint64_t size_ = 0;
};

// `path` without the " (deleted)" the kernel appends to a removed file's name.
std::string without_deleted_suffix(const std::string& path);

}  // namespace pyat
