#include "writers/output_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/random.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <streambuf>

#include "base/error.h"
#include "base/text_encoding.h"

namespace pyat {

namespace {

constexpr int max_symlink_hops = 40;  // as the kernel (ELOOP)
constexpr mode_t output_mode = 0644;

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
    throw Error(fmt::format("cannot write {}: {}", printable_text(path), reason));
}

std::string join(const std::string& directory, const std::string& name) {
    return directory == "/" ? "/" + name : directory + "/" + name;
}

std::string parent_of(const std::string& directory) {
    auto slash = directory.rfind('/');
    if (slash == std::string::npos) return directory;
    return slash == 0 ? "/" : directory.substr(0, slash);
}

std::deque<std::string> components(const std::string& path) {
    std::deque<std::string> parts;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        parts.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

const char* kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

std::string reason_for_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "it is a directory";
    return fmt::format("it is {}: outputs are only written to regular files", kind_of(mode));
}

UniqueFd open_directory(int at, const char* name) {
    return UniqueFd(openat(at, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// fs.protected_symlinks: in a sticky world-writable directory, a link is followed only when its
// owner is the follower or the directory's owner.
bool may_follow(const struct stat& directory, const struct stat& link) {
    const bool sticky_world_writable = (directory.st_mode & S_ISVTX) && (directory.st_mode & S_IWOTH);
    return !sticky_world_writable || link.st_uid == geteuid() || link.st_uid == directory.st_uid;
}

std::string read_link(int at, const std::string& name, size_t size_hint) {
    std::string target(std::max<size_t>(size_hint, 64) + 1, '\0');
    for (;;) {
        ssize_t n = readlinkat(at, name.c_str(), target.data(), target.size());
        if (n < 0) return {};
        if (size_t(n) < target.size()) {
            target.resize(size_t(n));
            return target;
        }
        target.resize(target.size() * 2);
    }
}

// A stream buffer writing to a file descriptor, remembering the first error.
class FdOutputBuffer : public std::streambuf {
public:
    explicit FdOutputBuffer(int fd) : fd_(fd) { setp(buffer_, buffer_ + sizeof(buffer_)); }
    int error() const { return error_; }
    bool flush() { return drain(); }

protected:
    int_type overflow(int_type c) override {
        if (!drain()) return traits_type::eof();
        if (!traits_type::eq_int_type(c, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(c);
            pbump(1);
        }
        return traits_type::not_eof(c);
    }
    int sync() override { return drain() ? 0 : -1; }

private:
    bool drain() {
        const char* p = pbase();
        while (p < pptr() && !error_) {
            ssize_t n = ::write(fd_, p, size_t(pptr() - p));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                error_ = n < 0 ? errno : EIO;
                break;
            }
            p += n;
        }
        setp(buffer_, buffer_ + sizeof(buffer_));
        return !error_;
    }

    int fd_;
    int error_ = 0;
    char buffer_[1 << 16];
};

// A new file in the destination's directory, removed again unless kept.
class TemporaryFile {
public:
    TemporaryFile(const OutputDestination& d) : directory_(d.directory.get()) {
        for (int attempt = 0; attempt < 100; attempt++) {
            uint64_t random = 0;
            if (getrandom(&random, sizeof(random), GRND_NONBLOCK) != sizeof(random))
                random = uint64_t(getpid()) * 1000003u + uint64_t(attempt) * 7919u + uint64_t(time(nullptr));
            name_ = fmt::format(".pyasynctrace-{}-{:016x}.tmp", getpid(), random);
            fd_.reset(openat(directory_, name_.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, output_mode));
            if (fd_ || errno != EEXIST) break;
        }
        if (!fd_) {
            int error = errno;
            name_.clear();
            std::string dir = parent_of(d.resolved);
            if (error == ENOENT) fail(d.path, fmt::format("files cannot be created in {}", printable_text(dir)));
            fail(d.path, strerror(error));
        }
        // Mode 0644 at most: the umask may ask for less, a default ACL could give more.
        struct stat st {};
        if (fstat(fd_.get(), &st) == 0 && (st.st_mode & 07777 & ~output_mode))
            fchmod(fd_.get(), st.st_mode & output_mode);
    }
    ~TemporaryFile() {
        fd_.reset();
        if (!name_.empty()) unlinkat(directory_, name_.c_str(), 0);
    }
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;

    int fd() const { return fd_.get(); }
    const std::string& name() const { return name_; }
    // Closes it, reporting a late write error (NFS reports some only at close).
    int close() {
        int fd = fd_.release();
        return ::close(fd) == 0 ? 0 : errno;
    }
    void keep() { name_.clear(); }

private:
    int directory_;
    UniqueFd fd_;
    std::string name_;
};

}  // namespace

bool OutputDestination::same_file(const OutputDestination& other) const {
    if (directory_dev == other.directory_dev && directory_ino == other.directory_ino && name == other.name)
        return true;
    return exists && other.exists && dev == other.dev && ino == other.ino;
}

OutputDestination resolve_output(const std::string& path) {
    if (path.empty()) fail(path, "empty path");
    if (path.find('\0') != std::string::npos) fail(path, "the path holds a NUL byte");
    OutputDestination d;
    d.path = path;

    std::string where;  // the directory `at` is, for messages
    UniqueFd at;
    auto start_at_root = [&] {
        at = open_directory(AT_FDCWD, "/");
        where = "/";
    };
    if (path.front() == '/') {
        start_at_root();
    } else {
        at = open_directory(AT_FDCWD, ".");
        char cwd[PATH_MAX];
        where = getcwd(cwd, sizeof(cwd)) ? cwd : ".";
    }
    if (!at) fail(path, fmt::format("cannot open {}: {}", printable_text(where), strerror(errno)));

    std::deque<std::string> rest = components(path);
    int hops = 0;
    while (!rest.empty()) {
        std::string part = std::move(rest.front());
        rest.pop_front();
        const bool last = rest.empty();
        if (part.empty() || part == "." || part == "..") {
            if (last) fail(path, "it names a directory, not a file");
            if (part == "..") {
                UniqueFd up = open_directory(at.get(), "..");
                if (!up) fail(path, fmt::format("cannot open {}/..: {}", printable_text(where), strerror(errno)));
                at = std::move(up);
                where = parent_of(where);
            }
            continue;
        }
        struct stat st {};
        if (fstatat(at.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            int error = errno;
            std::string here = printable_text(join(where, part));
            if (error == ENOENT && last) {  // a new file
                d.name = part;
                break;
            }
            if (error == ENOENT) fail(path, fmt::format("directory {} does not exist", here));
            fail(path, fmt::format("{}: {}", here, strerror(error)));
        }
        if (S_ISLNK(st.st_mode)) {
            struct stat dir {};
            if (fstat(at.get(), &dir) != 0) fail(path, strerror(errno));
            std::string here = printable_text(join(where, part));
            if (!may_follow(dir, st))
                fail(path, fmt::format("{} is a symbolic link owned by UID {} in the sticky world-writable "
                                       "directory {}, which belongs to UID {}: not followed (it may have been "
                                       "planted by another user; the rule of fs.protected_symlinks)",
                                       here, st.st_uid, printable_text(where), dir.st_uid));
            if (++hops > max_symlink_hops) fail(path, "too many levels of symbolic links");
            errno = 0;
            std::string target = read_link(at.get(), part, size_t(st.st_size));
            if (target.empty())
                fail(path, fmt::format("cannot read the link {}: {}", here, errno ? strerror(errno) : "it is empty"));
            // /proc/PID/fd/1 -> "pipe:[1234]": a link of /proc that is not a path leads to no file.
            struct statfs fs {};
            if (target.find(':') != std::string::npos && fstatfs(at.get(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC)
                fail(path, fmt::format("{} leads to {}: outputs are only written to regular files", here,
                                       printable_text(target)));
            std::deque<std::string> more = components(target);
            // A link to "dir/" or "." names a directory: keep that for the last component.
            if (last && (more.back().empty() || more.back() == "." || more.back() == ".."))
                fail(path, fmt::format("it is a link to a directory ({})", printable_text(target)));
            rest.insert(rest.begin(), more.begin(), more.end());
            if (target.front() == '/') {
                start_at_root();
                if (!at) fail(path, fmt::format("cannot open /: {}", strerror(errno)));
                rest.pop_front();  // the empty component before the leading '/'
            }
            continue;
        }
        if (last) {
            if (!S_ISREG(st.st_mode)) fail(path, reason_for_kind(st.st_mode));
            d.exists = true;
            d.dev = st.st_dev;
            d.ino = st.st_ino;
            d.name = part;
            break;
        }
        if (!S_ISDIR(st.st_mode)) fail(path, fmt::format("{} is not a directory", printable_text(join(where, part))));
        UniqueFd next = open_directory(at.get(), part.c_str());
        if (!next) {
            if (errno == ENOTDIR || errno == ELOOP) {  // replaced since we looked: look again
                if (++hops > max_symlink_hops) fail(path, "it keeps changing");
                rest.push_front(part);
                continue;
            }
            fail(path, fmt::format("{}: {}", printable_text(join(where, part)), strerror(errno)));
        }
        at = std::move(next);
        where = join(where, part);
    }
    if (d.name.empty()) fail(path, "it names a directory, not a file");
    struct stat dir {};
    if (fstat(at.get(), &dir) != 0) fail(path, strerror(errno));
    d.directory_dev = dir.st_dev;
    d.directory_ino = dir.st_ino;
    d.directory = std::move(at);
    d.resolved = join(where, d.name);
    return d;
}

void check_output_writable(const std::string& path) {
    OutputDestination d = resolve_output(path);
    // Root passes this for any file on a writable file system; others need the file's permission,
    // as they would to write into it (replacing it needs only the directory's).
    if (d.exists && faccessat(d.directory.get(), d.name.c_str(), W_OK, AT_EACCESS) != 0) fail(path, strerror(errno));
    TemporaryFile probe(d);  // permissions, ACLs, read-only file systems, inodes: the one test that sees all
}

void check_outputs(const std::vector<OutputSpec>& outputs, bool per_process_files) {
    std::vector<OutputDestination> resolved;
    for (const auto& o : outputs) {
        check_output_writable(o.path);
        resolved.push_back(resolve_output(o.path));
    }
    for (size_t i = 0; i < resolved.size(); i++) {
        for (size_t j = 0; j < i; j++) {
            const OutputDestination &a = resolved[j], &b = resolved[i];
            if (a.same_file(b))
                throw Error(fmt::format("-o {} and -o {} are the same file ({}): give each output its own file",
                                        printable_text(a.path), printable_text(b.path), printable_text(b.resolved)));
        }
    }
    if (!per_process_files) return;
    for (size_t i = 0; i < resolved.size(); i++) {
        if (!outputs[i].format->write_process) continue;  // one file for the whole profile
        const OutputDestination& c = resolved[i];
        for (size_t j = 0; j < resolved.size(); j++) {
            const OutputDestination& o = resolved[j];
            if (j == i || o.directory_dev != c.directory_dev || o.directory_ino != c.directory_ino) continue;
            std::string_view name = o.name;
            if (name.size() <= c.name.size() + 1 || !name.starts_with(c.name + ".")) continue;
            std::string_view suffix = name.substr(c.name.size() + 1);
            if (suffix.find_first_not_of("0123456789") != std::string_view::npos) continue;
            throw Error(fmt::format("-o {} could be overwritten: -o {} becomes one file per process, {}.<PID>, "
                                    "when several processes are sampled; give it another name",
                                    printable_text(o.path), printable_text(c.path), printable_text(c.path)));
        }
    }
}

OutputDestination write_output_file(const std::string& path, const std::function<void(std::ostream&)>& body) {
    OutputDestination d = resolve_output(path);
    TemporaryFile temporary(d);
    {
        FdOutputBuffer buffer(temporary.fd());
        std::ostream out(&buffer);
        body(out);
        out.flush();
        if (!buffer.flush() || !out) fail(path, strerror(buffer.error() ? buffer.error() : EIO));
    }
    if (fsync(temporary.fd()) != 0 && errno != EINVAL && errno != EROFS) fail(path, strerror(errno));
    if (int error = temporary.close()) fail(path, strerror(error));
    if (renameat(d.directory.get(), temporary.name().c_str(), d.directory.get(), d.name.c_str()) != 0)
        fail(path, fmt::format("cannot rename the new file over {}: {}", printable_text(d.resolved), strerror(errno)));
    temporary.keep();
    struct stat st {};
    if (fstatat(d.directory.get(), d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        d.exists = true;
        d.dev = st.st_dev;
        d.ino = st.st_ino;
    }
    return d;
}

}  // namespace pyat
