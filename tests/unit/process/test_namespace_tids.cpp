// NamespaceTids: a process's own TIDs (inside a PID namespace) mapped to the host's, from NSpid.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "process/namespace_tids.h"

using namespace pyat;

namespace {

TEST(NamespaceTidsTest, ParsesTheNSpidLineOutermostFirst) {
    const std::string nested =
        "Name:\tpython3.12\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t13351\nNgid:\t0\nPid:\t13354\n"
        "PPid:\t13349\nNStgid:\t13351\t1\nNSpid:\t13354\t2\nNSpgid:\t13351\t1\nNSsid:\t1000\t0\n";
    EXPECT_EQ(parse_nspid(nested), (std::vector<uint32_t>{13354, 2}));
    EXPECT_EQ(parse_nspid("NSpid:\t4242\n"), (std::vector<uint32_t>{4242}));  // first line, one namespace
    EXPECT_EQ(parse_nspid("Pid:\t9\nNSpid:\t9\t7\t3"), (std::vector<uint32_t>{9, 7, 3}));  // no final newline
    // Not to be confused with NStgid or NSpgid; missing or malformed: nothing.
    EXPECT_TRUE(parse_nspid("NStgid:\t5\t1\nNSpgid:\t5\t1\n").empty());
    EXPECT_TRUE(parse_nspid("").empty());
    EXPECT_TRUE(parse_nspid("NSpid:\t12x\t1\n").empty());
    EXPECT_TRUE(parse_nspid("NSpid:\t0\n").empty());
}

// Outside a namespace of its own, a process's TIDs are the host's.
TEST(NamespaceTidsTest, IdentityInTheHostNamespace) {
    NamespaceTids tids(getpid());
    EXPECT_FALSE(tids.nested());
    EXPECT_EQ(tids.host_tid(uint32_t(getpid())), uint32_t(getpid()));
    EXPECT_EQ(tids.host_tid(uint32_t(syscall(SYS_gettid))), uint32_t(syscall(SYS_gettid)));
}

}  // namespace
