// Output files as root writes them: planted symbolic links refused, FIFOs and devices never opened,
// writes through a temporary renamed into place, mode 0644 at most, two outputs never one file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "writers/output_file.h"
#include "writers/profile_outputs.h"
#include "test_support.h"

using namespace pyat;
using namespace pyat::test;
namespace fs = std::filesystem;

namespace {

constexpr uid_t other_user = 65534;  // nobody: owns the links "another user" planted

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The one-line reason check_output_writable gives, naming the path ("" and a failure if none).
std::string unwritable(const std::string& path) {
    try {
        check_output_writable(path);
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_EQ(m.rfind("cannot write " + path + ": ", 0), 0u) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        return m;
    }
    ADD_FAILURE() << path << " was reported writable";
    return "";
}

// The reason write_output_file gives ("" and a failure if it wrote).
std::string unwritten(const std::string& path) {
    try {
        write_output_file(path, [](std::ostream& out) { out << "profile\n"; });
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        return m;
    }
    ADD_FAILURE() << path << " was written";
    return "";
}

std::vector<std::string> entries(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
}

// A directory like /tmp: sticky, world-writable, owned by root.
std::string sticky_directory(const TempDir& dir, const std::string& name = "tmp") {
    std::string path = dir / name;
    fs::create_directory(path);
    EXPECT_EQ(chmod(path.c_str(), 01777), 0);
    return path;
}

// A symbolic link owned by `owner`, as that user would have made it.
void plant_link(const std::string& target, const std::string& link, uid_t owner) {
    fs::create_symlink(target, link);
    ASSERT_EQ(lchown(link.c_str(), owner, owner), 0) << "the tests run as root: " << strerror(errno);
}

// Fails the test (instead of hanging it) if a call blocks, e.g. in open() of a FIFO.
class HangGuard {
public:
    HangGuard() { alarm(20); }
    ~HangGuard() { alarm(0); }
};

mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

}  // namespace

TEST(OutputFile, CheckOutputWritable) {
    TempDir dir;

    // A new file in an existing directory: fine, and not created.
    EXPECT_NO_THROW(check_output_writable(dir / "new.svg"));
    EXPECT_FALSE(fs::exists(dir / "new.svg"));
    EXPECT_TRUE(fs::is_empty(dir.path()));

    // An existing file: fine, and not modified.
    std::ofstream(dir / "old.folded") << "a;b 1\n";
    auto before = fs::last_write_time(dir / "old.folded");
    EXPECT_NO_THROW(check_output_writable(dir / "old.folded"));
    EXPECT_EQ(read_file(dir / "old.folded"), "a;b 1\n");
    EXPECT_EQ(fs::last_write_time(dir / "old.folded"), before);

    // Relative names are checked against the current directory.
    std::string cwd = fs::current_path();
    fs::current_path(dir.path());
    EXPECT_NO_THROW(check_output_writable("relative.svg"));
    fs::current_path(cwd);

    EXPECT_TRUE(contains(unwritable(dir / "missing/x.svg"), "directory " + (dir / "missing") + " does not exist"));
    EXPECT_TRUE(contains(unwritable(dir.path().string()), "is a directory"));
    EXPECT_TRUE(contains(unwritable(dir / "."), "names a directory"));
    EXPECT_TRUE(contains(unwritable(dir / "x.svg/"), "directory " + (dir / "x.svg") + " does not exist"));
    EXPECT_TRUE(contains(unwritable(dir / "old.folded/"), (dir / "old.folded") + " is not a directory"));
    EXPECT_TRUE(contains(unwritable(dir / "old.folded/x.svg"), (dir / "old.folded") + " is not a directory"));
    // Not writable even by root: a read-only sysfs file, and a directory where files cannot be made.
    EXPECT_TRUE(contains(unwritable("/sys/devices/system/cpu/online"), "Permission denied"));
    EXPECT_TRUE(contains(unwritable("/proc/no-such-file.svg"), "files cannot be created in /proc"));

    // Permissions matter when not root (root passes DAC checks, so only checked as a normal user).
    if (geteuid() != 0) {
        fs::create_directory(dir / "ro");
        chmod((dir / "ro").c_str(), 0555);
        EXPECT_TRUE(contains(unwritable(dir / "ro/x.svg"), "Permission denied"));
        std::ofstream(dir / "ro.svg") << "x";
        chmod((dir / "ro.svg").c_str(), 0444);
        EXPECT_TRUE(contains(unwritable(dir / "ro.svg"), "Permission denied"));
    }
    EXPECT_TRUE(contains(unwritable(""), "empty path"));
    // Nothing was left behind by any of these checks.
    std::vector<std::string> expected = {"old.folded"};
    if (geteuid() != 0) expected = {"old.folded", "ro", "ro.svg"};
    EXPECT_EQ(entries(dir.path()), expected);
}

// The attack: another user plants /tmp/evil.svg -> /root/victim; root asks for -o /tmp/evil.svg.
TEST(OutputFile, SymlinkPlantedByAnotherUserInAStickyWorldWritableDirectoryIsNotFollowed) {
    TempDir dir;
    std::string tmp = sticky_directory(dir);
    std::string victim = dir / "victim";
    std::ofstream(victim) << "precious\n";
    plant_link(victim, tmp + "/evil.svg", other_user);

    std::string reason = unwritable(tmp + "/evil.svg");
    EXPECT_TRUE(contains(reason, tmp + "/evil.svg is a symbolic link owned by UID 65534 in the sticky "
                                       "world-writable directory " + tmp))
        << reason;
    EXPECT_TRUE(contains(unwritten(tmp + "/evil.svg"), "not followed")) << "the writer refuses it too";
    EXPECT_EQ(read_file(victim), "precious\n");
    EXPECT_TRUE(fs::is_symlink(tmp + "/evil.svg"));

    // A dangling one (the victim does not exist yet) is refused the same way: nothing is created.
    plant_link(dir / "new-victim", tmp + "/dangling.svg", other_user);
    EXPECT_TRUE(contains(unwritable(tmp + "/dangling.svg"), "not followed"));
    EXPECT_TRUE(contains(unwritten(tmp + "/dangling.svg"), "not followed"));
    EXPECT_FALSE(fs::exists(dir / "new-victim"));

    // Every component is checked, not only the last: /tmp/d -> /root, -o /tmp/d/victim.
    plant_link(dir.path().string(), tmp + "/d", other_user);
    EXPECT_TRUE(contains(unwritable(tmp + "/d/victim"), tmp + "/d is a symbolic link owned by UID 65534"));
    EXPECT_TRUE(contains(unwritten(tmp + "/d/victim"), "not followed"));
    EXPECT_EQ(read_file(victim), "precious\n");
    // ... also when reached through a link of our own.
    fs::create_symlink(tmp, dir / "mine");
    EXPECT_TRUE(contains(unwritable(dir / "mine/evil.svg"), "not followed"));

    // No temporary file was left anywhere.
    EXPECT_EQ(entries(tmp), (std::vector<std::string>{"d", "dangling.svg", "evil.svg"}));
    EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"mine", "tmp", "victim"}));
}

// The links the kernel's rule allows are followed: ours, the directory owner's, and any link
// outside a sticky world-writable directory. The file is written where the link leads.
TEST(OutputFile, SymlinksTheKernelRuleAllowsAreFollowed) {
    TempDir dir;
    std::string tmp = sticky_directory(dir);
    fs::create_directory(dir / "out");

    fs::create_symlink(dir / "out/mine.svg", tmp + "/mine.svg");  // ours (root's)
    EXPECT_NO_THROW(check_output_writable(tmp + "/mine.svg"));
    OutputDestination d = write_output_file(tmp + "/mine.svg", [](std::ostream& out) { out << "A"; });
    EXPECT_EQ(d.resolved, dir / "out/mine.svg");
    EXPECT_EQ(read_file(dir / "out/mine.svg"), "A");
    EXPECT_TRUE(fs::is_symlink(tmp + "/mine.svg")) << "the link stays, its target is replaced";

    // In a sticky world-writable directory owned by that same user (the directory's owner may).
    std::string users = sticky_directory(dir, "users");
    ASSERT_EQ(chown(users.c_str(), other_user, other_user), 0);
    plant_link(dir / "out/owner.svg", users + "/owner.svg", other_user);
    EXPECT_NO_THROW(write_output_file(users + "/owner.svg", [](std::ostream& out) { out << "B"; }));
    EXPECT_EQ(read_file(dir / "out/owner.svg"), "B");

    // World-writable but not sticky, or sticky but not world-writable: outside the rule.
    fs::create_directory(dir / "open");
    ASSERT_EQ(chmod((dir / "open").c_str(), 0777), 0);
    plant_link(dir / "out/open.svg", dir / "open/link.svg", other_user);
    EXPECT_NO_THROW(write_output_file(dir / "open/link.svg", [](std::ostream& out) { out << "C"; }));
    EXPECT_EQ(read_file(dir / "out/open.svg"), "C");
    fs::create_directory(dir / "sticky-only");
    ASSERT_EQ(chmod((dir / "sticky-only").c_str(), 01755), 0);
    plant_link(dir / "out/sticky.svg", dir / "sticky-only/link.svg", other_user);
    EXPECT_NO_THROW(check_output_writable(dir / "sticky-only/link.svg"));

    // Relative links and "..", and chains of links.
    fs::create_symlink("../out/rel.svg", dir / "open/rel.svg");
    fs::create_symlink("rel.svg", dir / "open/chain.svg");
    OutputDestination r = write_output_file(dir / "open/chain.svg", [](std::ostream& out) { out << "D"; });
    EXPECT_EQ(r.resolved, dir / "out/rel.svg");
    EXPECT_EQ(read_file(dir / "out/rel.svg"), "D");

    // A loop is an error, not a hang.
    fs::create_symlink("loop2", dir / "out/loop1");
    fs::create_symlink("loop1", dir / "out/loop2");
    EXPECT_TRUE(contains(unwritable(dir / "out/loop1"), "too many levels of symbolic links"));
}

// A FIFO, a device, a socket or a directory at the destination: an error at once, never opened.
TEST(OutputFile, OnlyRegularFilesAreWrittenAndNothingElseIsEverOpened) {
    HangGuard guard;
    TempDir dir;
    ASSERT_EQ(mkfifo((dir / "fifo.svg").c_str(), 0666), 0);
    EXPECT_TRUE(contains(unwritable(dir / "fifo.svg"), "it is a FIFO: outputs are only written to regular files"));
    EXPECT_TRUE(contains(unwritten(dir / "fifo.svg"), "it is a FIFO"));
    // Through a link of our own too.
    fs::create_symlink(dir / "fifo.svg", dir / "to-fifo.svg");
    EXPECT_TRUE(contains(unwritable(dir / "to-fifo.svg"), "it is a FIFO"));

    EXPECT_TRUE(contains(unwritable("/dev/null"), "it is a character device"));
    EXPECT_TRUE(contains(unwritten("/dev/null"), "it is a character device"));
    EXPECT_TRUE(contains(unwritable("/dev/stdout"), "outputs are only written to regular files"));

    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string socket_path = dir / "sock.svg";
    ASSERT_LT(socket_path.size(), sizeof(addr.sun_path));
    std::copy(socket_path.begin(), socket_path.end(), addr.sun_path);
    ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_TRUE(contains(unwritable(socket_path), "it is a socket"));
    close(s);

    fs::create_directory(dir / "d.svg");
    EXPECT_TRUE(contains(unwritten(dir / "d.svg"), "it is a directory"));
    EXPECT_TRUE(fs::is_fifo(dir / "fifo.svg"));
    EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"d.svg", "fifo.svg", "sock.svg", "to-fifo.svg"}));
}

TEST(OutputFile, WrittenThroughATemporaryRenamedIntoPlace) {
    TempDir dir;
    std::ofstream(dir / "p.folded") << "old\n";
    struct stat old_st {};
    ASSERT_EQ(stat((dir / "p.folded").c_str(), &old_st), 0);
    // A hard link to the old file keeps the old content: the file is replaced, not written into.
    fs::create_hard_link(dir / "p.folded", dir / "other-name");
    OutputDestination d = write_output_file(dir / "p.folded", [](std::ostream& out) {
        for (int i = 0; i < 100000; i++) out << "a;b;c " << i << "\n";  // past any one buffer
    });
    EXPECT_NE(d.ino, old_st.st_ino);
    std::string text = read_file(dir / "p.folded");
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 100000);
    EXPECT_EQ(read_file(dir / "other-name"), "old\n");

    // A writer that fails leaves the old file and no temporary.
    EXPECT_THROW(write_output_file(dir / "p.folded",
                                   [](std::ostream& out) {
                                       out << "half";
                                       throw Error("the writer failed");
                                   }),
                 Error);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 100000);
    EXPECT_EQ(read_file(dir / "p.folded"), text);
    EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"other-name", "p.folded"}));

    // A write error (here the file size limit, as a full disk would be) is reported, with the old
    // file kept and nothing left behind.
    signal(SIGXFSZ, SIG_IGN);
    rlimit saved{};
    getrlimit(RLIMIT_FSIZE, &saved);
    rlimit small = saved;
    small.rlim_cur = 4096;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
    std::string error;
    try {
        write_output_file(dir / "p.folded", [](std::ostream& out) { out << std::string(100000, 'x'); });
    } catch (const Error& e) {
        error = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, SIG_DFL);
    EXPECT_EQ(error, "cannot write " + (dir / "p.folded") + ": File too large");
    EXPECT_EQ(read_file(dir / "p.folded"), text);
    EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"other-name", "p.folded"}));
}

TEST(OutputFile, ModeIs0644AtMostWhateverTheUmask) {
    TempDir dir;
    mode_t saved = umask(0);
    write_output_file(dir / "open.svg", [](std::ostream& out) { out << "x"; });
    EXPECT_EQ(mode_of(dir / "open.svg"), 0644u);
    umask(077);
    write_output_file(dir / "private.svg", [](std::ostream& out) { out << "x"; });
    EXPECT_EQ(mode_of(dir / "private.svg"), 0600u) << "a umask asking for less is honoured";
    umask(0);
    std::ofstream(dir / "was-0666.svg") << "x";
    chmod((dir / "was-0666.svg").c_str(), 0666);
    write_output_file(dir / "was-0666.svg", [](std::ostream& out) { out << "y"; });
    EXPECT_EQ(mode_of(dir / "was-0666.svg"), 0644u);
    umask(saved);
}

TEST(OutputFile, TwoOutputsThatAreOneFileAreRefused) {
    TempDir dir;
    auto refused = [](const std::vector<OutputSpec>& outputs, bool per_process = true) {
        try {
            check_outputs(outputs, per_process);
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
            return std::string(e.what());
        }
        return std::string();
    };
    // -o a.svg -o link.folded with link.folded -> a.svg, the file existing or not yet.
    fs::create_symlink("a.svg", dir / "link.folded");
    std::vector<OutputSpec> linked = {{dir / "a.svg", &output_format("svg")}, {dir / "link.folded", &output_format("folded")}};
    EXPECT_TRUE(contains(refused(linked), "-o " + (dir / "a.svg") + " and -o " + (dir / "link.folded") +
                                              " are the same file (" + (dir / "a.svg") + ")"));
    std::ofstream(dir / "a.svg") << "x";
    EXPECT_TRUE(contains(refused(linked), "are the same file"));
    // The same entry through ".." or "./", and a hard link.
    fs::create_directory(dir / "sub");
    EXPECT_TRUE(contains(refused({{dir / "a.svg", &output_format("svg")}, {dir / "sub/../a.svg", &output_format("svg")}}),
                         "are the same file"));
    fs::create_hard_link(dir / "a.svg", dir / "hard.svg");
    EXPECT_TRUE(contains(refused({{dir / "a.svg", &output_format("svg")}, {dir / "hard.svg", &output_format("svg")}}),
                         "are the same file"));
    EXPECT_EQ(refused({{dir / "a.svg", &output_format("svg")}, {dir / "b.folded", &output_format("folded")}}), "");

    // A callgrind output becomes <path>.<pid> per process when several are sampled.
    std::vector<OutputSpec> per_pid = {{dir / "all.callgrind", &output_format("callgrind")},
                                       {dir / "all.callgrind.4242", &output_format("callgrind")}};
    EXPECT_TRUE(contains(refused(per_pid), "-o " + (dir / "all.callgrind.4242") + " could be overwritten"));
    EXPECT_EQ(refused(per_pid, false), "") << "one process: one file";
    EXPECT_EQ(refused({{dir / "all.callgrind", &output_format("callgrind")}, {dir / "all.callgrind.x", &output_format("svg")}}),
              "");
}

// At the end of the run the writers check again: a file written in this run is never written
// over by another output (a link made meanwhile, a per-process callgrind name).
TEST(OutputFile, WriteOutputsNeverWritesOneFileTwice) {
    TempDir dir;
    Profile p;
    ProcessProfile pp;
    pp.pid = 42;
    uint32_t f = pp.intern({"main", "/srv/app.py", 1});
    pp.add({{f, 2}}, 5);
    p.processes.push_back(pp);
    fs::create_symlink("a.svg", dir / "link.folded");
    auto written = write_outputs(p, {{dir / "a.svg", &output_format("svg")}, {dir / "link.folded", &output_format("folded")}});
    ASSERT_EQ(written.size(), 2u);
    EXPECT_EQ(written[0].error, "");
    EXPECT_TRUE(contains(written[1].error, "written a moment ago by this run")) << written[1].error;
    EXPECT_TRUE(contains(read_file(dir / "a.svg"), "<svg")) << "the flame graph stays a flame graph";
}
