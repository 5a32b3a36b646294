// The asyncio names the profile side reads (probes/asyncio/names): which file describes which
// CPython, and how its task entries and plumbing frames parse.
#include <gtest/gtest.h>

#include <string>

#include "runtimes/asyncio/asyncio_description.h"
#include "runtimes/twisted/twisted_description.h"  // split_names

using namespace pyat;

TEST(AsyncioDescription, EachVersionGetsTheNewestFileNotAboveIt) {
    EXPECT_EQ(asyncio_description_for(3, 7), nullptr);
    for (int minor : {8, 9, 10}) EXPECT_EQ(asyncio_description_for(3, minor)->minor, 8) << minor;
    EXPECT_EQ(asyncio_description_for(3, 11)->minor, 11);
    for (int minor : {12, 13, 14, 15}) EXPECT_EQ(asyncio_description_for(3, minor)->minor, 12) << minor;
}

TEST(AsyncioDescription, TaskEntriesParseIntoModuleAndAttributes) {
    for (int minor = 8; minor <= 14; minor++) {
        const AsyncioDescription* d = asyncio_description_for(3, minor);
        ASSERT_NE(d, nullptr);
        auto paths = task_entry_paths(*d);
        ASSERT_GE(paths.size(), 2u) << minor;
        // Handle._run first: the look waits for it (asyncio imported), the walk matches it first.
        EXPECT_EQ(paths[0].module, "asyncio.events");
        EXPECT_EQ(paths[0].attributes, (std::vector<std::string>{"Handle", "_run"}));
        EXPECT_LE(paths.size(), 6u) << "PYAT_ASYNCIO_ENTRIES slots";
        for (const auto& p : paths) {
            EXPECT_FALSE(p.module.empty());
            EXPECT_FALSE(p.attributes.empty());
        }
        // asyncio.run is an entry (uvloop): the function on 3.8-3.10, Runner.run from 3.11.
        const auto& last = paths.back();
        EXPECT_EQ(last.module, "asyncio.runners");
        const std::vector<std::string> run = minor < 11 ? std::vector<std::string>{"run"}
                                                        : std::vector<std::string>{"Runner", "run"};
        EXPECT_EQ(last.attributes, run);
    }
}

TEST(AsyncioDescription, PlumbingFramesNameAFileAndAFunction) {
    for (int minor = 8; minor <= 14; minor++) {
        const AsyncioDescription* d = asyncio_description_for(3, minor);
        auto frames = split_names(d->plumbing_frames);
        ASSERT_GE(frames.size(), 6u);
        bool run_once = false;
        for (const auto& f : frames) {
            auto colon = f.rfind(':');
            ASSERT_NE(colon, std::string::npos) << f;
            EXPECT_TRUE(f.substr(0, colon).starts_with("asyncio/")) << f;
            EXPECT_EQ(f.find('.', colon), std::string::npos) << "a co_name, not a qualified name: " << f;
            run_once |= f == "asyncio/base_events.py:_run_once";
        }
        EXPECT_TRUE(run_once) << minor;
    }
}
