#include "writers/callgrind_writer.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "base/text_encoding.h"
#include "profile/frame_label.h"

namespace pyat {

namespace {

#ifndef PYAT_VERSION
#define PYAT_VERSION "dev"
#endif

constexpr const char* no_file = "???";  // how callgrind tools spell "unknown file"

struct CallCost {
    uint64_t samples = 0;    // samples that saw the call (sampling can't count calls)
    uint64_t inclusive = 0;  // weight of the stacks through the call
};

struct FunctionCosts {
    std::map<uint32_t, uint64_t> self;                                  // line -> weight
    std::map<std::pair<uint32_t, uint32_t>, CallCost> calls;            // (call line, callee) -> cost
};

// Compresses file and function names: the first use prints "(id) name", later ones "(id)".
// Names are printable_text: one record per line, whatever the target named things.
class NameTable {
public:
    std::string operator()(const std::string& name) {
        auto [it, added] = ids_.try_emplace(printable_text(name), ids_.size() + 1);
        return added ? fmt::format("({}) {}", it->second, it->first) : fmt::format("({})", it->second);
    }

private:
    std::map<std::string, size_t> ids_;
};

// Function names as callgrind shows them: the qualified name, disambiguated by its def line
// when one file has two functions of that name (two lambdas, say).
std::vector<std::string> callgrind_names(const std::vector<Function>& functions) {
    std::map<std::pair<std::string, std::string>, int> seen;
    for (const auto& f : functions) seen[{f.file, f.name}]++;
    std::vector<std::string> names;
    for (const auto& f : functions)
        names.push_back(seen[{f.file, f.name}] > 1 ? fmt::format("{}'{}", f.name, f.first_line) : f.name);
    return names;
}

}  // namespace

void write_callgrind(const ProcessProfile& process, const RunInfo& run, std::ostream& out) {
    // Callgrind has no labels: a group is a root function named by its label, with no file,
    // calling the roots of its stacks.
    std::vector<Function> shown = process.functions;
    const uint32_t first_group = uint32_t(shown.size());
    for (const auto& g : process.groups) shown.push_back({group_label(g), "", 0});
    std::vector<FunctionCosts> costs(shown.size());
    uint64_t total = 0;
    Stack stack;
    for (const auto& [key, weight] : process.stacks) {
        stack.clear();
        if (key.group != no_group) stack.push_back({first_group + key.group, 0});
        stack.insert(stack.end(), key.frames.begin(), key.frames.end());
        if (stack.empty() || !weight) continue;
        total += weight;
        costs[stack.back().function].self[stack.back().line] += weight;
        std::set<std::tuple<uint32_t, uint32_t, uint32_t>> edges;  // each edge once per stack
        for (size_t i = 0; i + 1 < stack.size(); i++) {
            auto edge = std::make_tuple(stack[i].function, stack[i].line, stack[i + 1].function);
            if (!edges.insert(edge).second) continue;
            CallCost& c = costs[stack[i].function].calls[{stack[i].line, stack[i + 1].function}];
            c.samples += weight;
            c.inclusive += weight;
        }
    }

    const bool wall = run.clock == Clock::wall;
    const char* event = run.traced ? "ns" : wall ? "wall_samples" : "cpu_samples";
    double ms = run.hz ? 1000.0 / run.hz : 0;
    fmt::print(out, "# callgrind format\n");
    if (run.traced) {
        fmt::print(out, "# Written by pyasynctrace --mode trace from the interpreter's function probes: calls=\n");
        fmt::print(out, "# lines give exact call counts; costs are nanoseconds of wall-clock time{}.\n",
                   run.estimated_times ? ", estimated (CPython 3.11 fires no entry probe for most calls)" : "");
    } else {
        fmt::print(out, "# Written by pyasynctrace from statistical samples of Python stacks, not from\n");
        fmt::print(out, "# instrumentation. Sampling cannot count calls: each calls= line gives the number\n");
        fmt::print(out, "# of samples that saw the call.\n");
    }
    fmt::print(out, "version: 1\ncreator: pyasynctrace {}\n", PYAT_VERSION);
    fmt::print(out, "pid: {}\ncmd: {}\npart: 1\n", process.pid,
               printable_text(process.command_line.empty() ? process.program : process.command_line));
    if (!process.python_version.empty()) fmt::print(out, "desc: Interpreter: CPython {}\n", process.python_version);
    fmt::print(out, "positions: line\n");
    if (run.traced)
        fmt::print(out, "event: ns : wall-clock time in calls, in nanoseconds ({})\n",
                   run.estimated_times ? "estimated" : "from entry to return");
    else if (wall)
        fmt::print(out, "event: {} : wall-clock samples at {} Hz, on-CPU and off-CPU (1 sample = {:.3f} ms)\n",
                   event, run.hz, ms);
    else
        fmt::print(out, "event: {} : on-CPU samples at {} Hz (1 sample = {:.3f} ms)\n", event, run.hz, ms);
    fmt::print(out, "events: {}\nsummary: {}\n\n", event, total);

    // Functions grouped by file, in a stable order.
    std::vector<std::string> names = callgrind_names(shown);
    std::vector<uint32_t> order(shown.size());
    for (uint32_t i = 0; i < order.size(); i++) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        const auto &fa = shown[a], &fb = shown[b];
        return std::tie(fa.file, names[a], fa.first_line) < std::tie(fb.file, names[b], fb.first_line);
    });

    NameTable files, functions;
    auto file_of = [&](uint32_t f) {
        const std::string& file = shown[f].file;
        return file.empty() ? std::string(no_file) : file;
    };
    for (uint32_t f : order) {
        const FunctionCosts& c = costs[f];
        if (c.self.empty() && c.calls.empty()) continue;
        fmt::print(out, "fl={}\nfn={}\n", files(file_of(f)), functions(names[f]));
        for (const auto& [line, weight] : c.self) fmt::print(out, "{} {}\n", line, weight);
        for (const auto& [key, call] : c.calls) {
            auto [line, callee] = key;
            // cfl= only for a callee in another file: without it the caller's file is meant (the
            // format's rule), and callgrind_annotate strips the current directory from fl= names
            // only, so a redundant cfl= made every function of a file there appear twice.
            if (file_of(callee) != file_of(f)) fmt::print(out, "cfl={}\n", files(file_of(callee)));
            fmt::print(out, "cfn={}\n", functions(names[callee]));
            uint64_t count = call.samples;
            if (run.traced) {
                auto exact = process.call_counts.find({f, line, callee});
                count = exact == process.call_counts.end() ? 0 : exact->second;
            }
            fmt::print(out, "calls={} {}\n{} {}\n", count, shown[callee].first_line, line, call.inclusive);
        }
        fmt::print(out, "\n");
    }
    fmt::print(out, "totals: {}\n", total);
}

}  // namespace pyat
