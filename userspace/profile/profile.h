// The aggregated profile: what the correlator builds and every writer reads.
#pragma once

#include <compare>
#include <map>
#include <tuple>
#include <memory>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace pyat {

// A function as the user sees it. Identity is (name, file, first_line).
// Synthetic frames ("[no Python frame]", "[gc]") have an empty file and first_line 0.
struct Function {
    std::string name;   // qualified name, e.g. "Server.handle"
    std::string file;   // source path as the interpreter knows it; "" for synthetic frames
    uint32_t first_line = 0;  // line of the def (co_firstlineno)

    bool operator==(const Function&) const = default;
};

// One frame of a stack: which function, at which line of its file
// (for the leaf: the line executing; for a caller: the line of the call).
struct StackFrame {
    uint32_t function = 0;  // index into ProcessProfile::functions
    uint32_t line = 0;      // 0 when unknown

    bool operator==(const StackFrame&) const = default;
    auto operator<=>(const StackFrame&) const = default;
};

using Stack = std::vector<StackFrame>;  // root first, leaf last

struct StackHash {
    size_t operator()(const Stack& s) const noexcept;
};

// What a sample ran as within its process when the run groups stacks (--group-by thread or
// greenlet; later an asyncio task or a request). Writers without labels show it as a root frame.
struct SampleGroup {
    enum class Kind : uint8_t { thread, greenlet, task };
    Kind kind = Kind::thread;
    uint32_t id = 0;   // thread: its TID; greenlet: its number in the process, in order of appearance;
                       // task: its number in the process, in order of appearance
    std::string name;  // thread: its Python name, else the OS's; greenlet: the function it runs;
                       // task: its name; "" unknown
    std::string function;  // task: its coroutine's function ("" unknown)
};

constexpr uint32_t no_group = UINT32_MAX;

// A stack and the group it ran in.
struct GroupedStack {
    uint32_t group = no_group;  // index into ProcessProfile::groups, or no_group
    Stack frames;

    bool operator==(const GroupedStack&) const = default;
};

// Hash and equality that also take a (group, stack) pair of references: a sample's weight is added
// without copying its stack unless it is new.
struct GroupedStackKey {
    uint32_t group;
    const Stack& frames;
};
struct GroupedStackHash {
    using is_transparent = void;
    size_t operator()(const GroupedStack& s) const noexcept { return (*this)(GroupedStackKey{s.group, s.frames}); }
    size_t operator()(const GroupedStackKey& s) const noexcept;
};
struct GroupedStackEqual {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const noexcept {
        return a.group == b.group && a.frames == b.frames;
    }
};

// Everything collected for one process.
struct ProcessProfile {
    int pid = 0;
    std::string program;       // short program name, e.g. "python3.11"
    std::string command_line;  // argv joined with spaces
    std::string python_version;  // e.g. "3.11.2"
    std::vector<Function> functions;
    std::vector<SampleGroup> groups;  // the groups its samples ran in (none unless grouping)
    // (group, stack) -> weight in samples (ns in --mode trace)
    std::unordered_map<GroupedStack, uint64_t, GroupedStackHash, GroupedStackEqual> stacks;
    // --mode trace: (caller function, its line, callee function) -> exact number of calls.
    std::map<std::tuple<uint32_t, uint32_t, uint32_t>, uint64_t> call_counts;

    // Index of the function, adding it on first use.
    uint32_t intern(const Function& f);
    // A new group; its index.
    uint32_t add_group(SampleGroup group);
    void add(const Stack& stack, uint64_t weight, uint32_t group = no_group);
    uint64_t total() const;

private:
    struct FunctionHash {
        size_t operator()(const Function& f) const noexcept;
    };
    std::unordered_map<Function, uint32_t, FunctionHash> index_;
};

enum class Clock { cpu, wall };

// What each stack is grouped by (below the process): nothing (stacks of the same code merge
// across threads), its thread, or its greenlet (see SampleGroup).
enum class GroupBy { code, thread, greenlet, task };

// A greenlet that ran longer than --block-threshold without switching: nothing else on its
// thread (gevent's hub included) could run meanwhile.
struct BlockingSlice {
    int pid = 0;
    uint32_t tid = 0;
    std::string who;             // "greenlet 3 (busy_loop)", "reactor thread [4242]"
    std::string what = "without switching";  // "without returning to the reactor"
    uint64_t start_ns = 0;       // CLOCK_MONOTONIC
    uint64_t duration_ns = 0;
    bool ongoing = false;        // still running when the run ended
    uint64_t samples = 0;        // CPU samples taken during the slice
    // The stacks sampled during the slice (root first, as frame labels) with their counts,
    // most frequent first.
    std::vector<std::pair<std::vector<std::string>, uint64_t>> stacks;
};

// One entry of the Deferred lifecycle log (Twisted, --deferred-log).
struct DeferredEvent {
    std::string what;      // created, callbacks_added, fired, failed, chained, callback_ran, pending,
                           // abandoned
    int pid = 0;
    uint32_t tid = 0;
    uint64_t time_ns = 0;  // CLOCK_MONOTONIC
    uint64_t created_ns = 0;  // pending, abandoned: when the Deferred was created
    std::string deferred;  // object id, "0x7f..."
    std::vector<std::pair<std::string, std::string>> fields;  // further JSON members: name -> JSON text
    std::shared_ptr<const std::vector<std::string>> stack;  // frame labels, root first (shared: few differ)
};

// What was traced, for titles and headers.
struct RunInfo {
    Clock clock = Clock::cpu;
    GroupBy group_by = GroupBy::code;
    unsigned hz = 99;
    double duration_s = 0;        // how long the run lasted
    int64_t start_unix_s = 0;     // wall-clock start (seconds since epoch)
    std::string target_summary;   // e.g. "PID 4242 (python3.11 app.py)" or "all CPython processes"
    uint64_t lost_samples = 0;
    uint64_t block_threshold_ms = 0;  // 0: no blocking report
    int64_t monotonic_to_unix_ns = 0;  // add to a CLOCK_MONOTONIC time to get Unix time
    // --mode trace: weights are nanoseconds of wall-clock time measured from the interpreter's
    // function probes, and call counts are exact; estimated_times: from returns alone (CPython 3.11).
    bool traced = false;
    bool estimated_times = false;
};

struct Profile {
    RunInfo run;
    std::vector<ProcessProfile> processes;
    std::vector<BlockingSlice> blocking;
    std::vector<DeferredEvent> deferred_events;  // in time order per process

    uint64_t total() const;
};

const char* clock_name(Clock c);

}  // namespace pyat
