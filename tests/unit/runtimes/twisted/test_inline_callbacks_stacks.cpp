// Logical inlineCallbacks stacks from physical stacks and awaited-by chains (no process needed).
#include <gtest/gtest.h>

#include "runtimes/twisted/inline_callbacks_stacks.h"
#include "runtimes/twisted/twisted_description.h"

using namespace pyat;

namespace {

const TwistedDescription& twisted_22_4() {
    for (const auto& d : known_twisted_descriptions())
        if (d.major == 22 && d.minor == 4) return d;
    throw std::runtime_error("probes/twisted/22.4.conf is missing");
}

constexpr const char* defer = "/usr/lib/python3/dist-packages/twisted/internet/defer.py";
constexpr const char* base = "/usr/lib/python3/dist-packages/twisted/internet/base.py";
constexpr const char* task = "/usr/lib/python3/dist-packages/twisted/internet/task.py";
constexpr const char* app = "/srv/app.py";

struct Builder {
    ProcessProfile profile;
    Stack stack(std::initializer_list<std::pair<const char*, const char*>> frames) {
        Stack s;
        for (const auto& [name, file] : frames) s.push_back({profile.intern({name, file, 1}), 7});
        return s;
    }
    std::vector<std::string> names(const Stack& s) const {
        std::vector<std::string> out;
        for (const auto& f : s) out.push_back(profile.functions[f.function].name);
        return out;
    }
};

using Names = std::vector<std::string>;

}  // namespace

TEST(InlineCallbacksStacks, FirstRunHidesOnlyTheTrampolines) {
    Builder b;
    InlineCallbacksStacks ics(twisted_22_4());
    Stack physical = b.stack({{"<module>", app}, {"react", task}, {"unwindGenerator", defer},
                              {"_cancellableInlineCallbacks", defer}, {"_inlineCallbacks", defer}, {"func", app},
                              {"helper", app}});
    EXPECT_EQ(b.names(ics.rewrite(b.profile, physical, std::nullopt, {})), (Names{"<module>", "react", "func", "helper"}));
}

TEST(InlineCallbacksStacks, ResumedGeneratorGoesUnderItsWaitersAndTheCodeRunningTheReactor) {
    Builder b;
    InlineCallbacksStacks ics(twisted_22_4());
    Stack physical = b.stack({{"<module>", app}, {"react", task}, {"_SignalReactorMixin.run", base},
                              {"_SignalReactorMixin.mainLoop", base}, {"ReactorBase.runUntilCurrent", base},
                              {"Deferred.callback", defer}, {"Deferred._startRunCallbacks", defer},
                              {"Deferred._runCallbacks", defer}, {"_inlineCallbacks.<locals>.gotResult", defer},
                              {"_inlineCallbacks", defer}, {"leaf", app}, {"work", app}});
    Stack awaiting = b.stack({{"main", app}, {"middle", app}});  // outermost first
    EXPECT_EQ(b.names(ics.rewrite(b.profile, physical, 9, awaiting)),
              (Names{"<module>", "react", "main", "middle", "leaf", "work"}));
    EXPECT_TRUE(ics.runs_reactor(b.profile, physical));
    EXPECT_FALSE(ics.resumed_by_generator_end(b.profile, physical, 9));
}

TEST(InlineCallbacksStacks, WithoutAReactorOnlyTheDeferredMachineryIsCut) {
    Builder b;
    InlineCallbacksStacks ics(twisted_22_4());
    Stack physical = b.stack({{"<module>", app}, {"fire", app}, {"Deferred.callback", defer},
                              {"Deferred._startRunCallbacks", defer}, {"Deferred._runCallbacks", defer},
                              {"_inlineCallbacks.<locals>.gotResult", defer}, {"_inlineCallbacks", defer},
                              {"waiter", app}});
    EXPECT_EQ(b.names(ics.rewrite(b.profile, physical, 6, {})), (Names{"<module>", "fire", "waiter"}));
    EXPECT_FALSE(ics.runs_reactor(b.profile, physical));
}

TEST(InlineCallbacksStacks, AGeneratorResumedByTheEndOfTheOneItAwaitedIsRecognised) {
    Builder b;
    InlineCallbacksStacks ics(twisted_22_4());
    // leaf returned: its driver fires leaf's Deferred, whose callback resumes middle.
    Stack physical = b.stack({{"<module>", app}, {"_SignalReactorMixin.run", base},
                              {"_inlineCallbacks.<locals>.gotResult", defer}, {"_inlineCallbacks", defer},
                              {"Deferred.callback", defer}, {"Deferred._startRunCallbacks", defer},
                              {"Deferred._runCallbacks", defer}, {"_inlineCallbacks.<locals>.gotResult", defer},
                              {"_inlineCallbacks", defer}, {"middle", app}});
    EXPECT_TRUE(ics.resumed_by_generator_end(b.profile, physical, 8));
    // Sampled in transit (leaf's driver firing, middle not entered yet): no machinery at the leaf.
    Stack transit(physical.begin(), physical.begin() + 8);
    EXPECT_EQ(b.names(ics.rewrite(b.profile, transit, 3, {})), (Names{"<module>"}));
    // A generator still running that fires a Deferred by hand is not an ending one.
    Stack fired = b.stack({{"<module>", app}, {"_SignalReactorMixin.run", base},
                           {"_inlineCallbacks.<locals>.gotResult", defer}, {"_inlineCallbacks", defer},
                           {"producer", app}, {"Deferred.callback", defer}, {"Deferred._startRunCallbacks", defer},
                           {"Deferred._runCallbacks", defer}, {"_inlineCallbacks.<locals>.gotResult", defer},
                           {"_inlineCallbacks", defer}, {"consumer", app}});
    EXPECT_FALSE(ics.resumed_by_generator_end(b.profile, fired, 9));
}

TEST(InlineCallbacksStacks, DescriptionsParse) {
    const auto& d = twisted_22_4();
    EXPECT_EQ(split_names(d.first_run_frames),
              (std::vector<std::string>{"unwindGenerator", "_cancellableInlineCallbacks", "_inlineCallbacks"}));
    EXPECT_EQ(std::string(d.awaiter_holds), "closure");
    EXPECT_EQ(short_name("_inlineCallbacks.<locals>.gotResult"), "gotResult");
    EXPECT_EQ(short_name("react"), "react");
}
