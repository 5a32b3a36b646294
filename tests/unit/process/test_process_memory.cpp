// Reading words of a process in batches (ProcessMemory::read_words), here of this test's own
// memory: unreadable words among readable ones, more words than one system call takes, a word
// that runs into an unmapped page, and a process that is gone.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "process/process_memory.h"

using namespace pyat;

namespace {

uint64_t address_of(const void* p) { return reinterpret_cast<uint64_t>(p); }

TEST(ProcessMemory, ReadWordsSkipsOnlyTheUnreadableOnes) {
    std::vector<uint64_t> values = {11, 22, 33, 44};
    ProcessMemory memory(getpid());
    std::vector<uint64_t> at = {address_of(&values[0]), 16, address_of(&values[1]), 0, address_of(&values[2]),
                                address_of(&values[3]), 8};
    EXPECT_EQ(memory.read_words(at, 7), (std::vector<uint64_t>{11, 7, 22, 7, 33, 44, 7}));
    EXPECT_TRUE(memory.read_words({}).empty());
}

TEST(ProcessMemory, ReadWordsTakesMoreThanOneCallHolds) {
    // 3000 words, every 700th unreadable: across the kernel's 1024 ranges per call.
    std::vector<uint64_t> values(3000);
    std::vector<uint64_t> at, expected;
    for (size_t i = 0; i < values.size(); i++) {
        values[i] = i * 3 + 1;
        bool hole = i % 700 == 699;
        at.push_back(hole ? 32 : address_of(&values[i]));
        expected.push_back(hole ? 0 : values[i]);
    }
    ProcessMemory memory(getpid());
    EXPECT_EQ(memory.read_words(at), expected);
}

TEST(ProcessMemory, AWordRunningIntoAnUnmappedPageIsUnreadable) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    auto* two = static_cast<uint8_t*>(mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(two, MAP_FAILED);
    ASSERT_EQ(munmap(two + page, page), 0);
    const uint64_t whole = 0x1122334455667788ULL;
    std::memcpy(two + page - 16, &whole, 8);
    std::memset(two + page - 8, 0xab, 8);
    ProcessMemory memory(getpid());
    auto words = memory.read_words({address_of(two + page - 16), address_of(two + page - 4), address_of(two + page - 8)}, 5);
    EXPECT_EQ(words, (std::vector<uint64_t>{whole, 5, 0xababababababababULL}));
    munmap(two, page);
}

TEST(ProcessMemory, ReadWordsOfAGoneProcessAreAllUnreadable) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) _exit(0);
    ASSERT_EQ(waitpid(child, nullptr, 0), child);
    uint64_t value = 42;
    ProcessMemory memory(child);
    EXPECT_EQ(memory.read_words({address_of(&value), address_of(&value)}, 9), (std::vector<uint64_t>{9, 9}));
}

}  // namespace
