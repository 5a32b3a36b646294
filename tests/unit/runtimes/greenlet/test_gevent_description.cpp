// gevent's names as data (probes/greenlet/gevent/*.conf): the hub's type, the hub's loop frame and
// gevent's own Greenlet.run frames are told apart as the greenlet tracker needs.
#include <gtest/gtest.h>

#include "runtimes/greenlet/gevent_description.h"

using namespace pyat;

TEST(GeventDescription, ComesFromProbes) {
    const GeventDescription& g = gevent_description();
    EXPECT_STREQ(g.source, "probes/greenlet/gevent/22.10.conf");
    EXPECT_EQ(g.major, 22);
    EXPECT_EQ(g.minor, 10);
}

TEST(GeventDescription, TheHubsTypeBareOrQualified) {
    const GeventDescription& g = gevent_description();
    EXPECT_TRUE(g.is_hub_type("Hub"));
    EXPECT_TRUE(g.is_hub_type("gevent._gevent_c_hub.Hub"));
    EXPECT_FALSE(g.is_hub_type("MyHub"));
    EXPECT_FALSE(g.is_hub_type("Hubble"));
    EXPECT_FALSE(g.is_hub_type("greenlet.greenlet"));
    EXPECT_FALSE(g.is_hub_type(""));
}

TEST(GeventDescription, TheHubsLoopAndTheRunWrapperByFileAndName) {
    const GeventDescription& g = gevent_description();
    EXPECT_TRUE(g.is_hub_run("/usr/lib/python3/dist-packages/gevent/hub.py", "Hub.run"));
    EXPECT_FALSE(g.is_hub_run("/usr/lib/python3/dist-packages/gevent/hub.py", "Hub.switch"));
    EXPECT_FALSE(g.is_hub_run("/srv/app/hub.py", "run"));
    EXPECT_TRUE(g.is_run_wrapper("/usr/lib/python3/dist-packages/gevent/greenlet.py"));
    EXPECT_FALSE(g.is_run_wrapper("/srv/app/greenlet.py"));
    EXPECT_FALSE(g.is_run_wrapper(""));
}

TEST(GeventDescription, AnEmptyDescriptionMatchesNothing) {
    const GeventDescription none{};
    EXPECT_FALSE(none.is_hub_type("Hub"));
    EXPECT_FALSE(none.is_hub_run("gevent/hub.py", "run"));
    EXPECT_FALSE(none.is_run_wrapper("gevent/greenlet.py"));
}
