// Helpers for the asyncio live tests: the frame names CPython gives asyncio's plumbing per
// version, stack-shape queries over folded profiles, and dumps for failure messages.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "live/interpreters.h"
#include "test_support.h"

namespace pyat::test::asyncio {

using Names = std::vector<std::string>;

inline int minor_of(const Interpreter& interpreter) { return std::stoi(std::string(interpreter.version).substr(2)); }

// A method's frame name: qualified from 3.11 on (co_qualname), the bare co_name on 3.8-3.10.
inline std::string method(const Interpreter& interpreter, const std::string& cls, const std::string& name) {
    return minor_of(interpreter) >= 11 ? cls + "." + name : name;
}

// The loop's plumbing as the interpreter names it (the stacks of a gather child as the tool showed
// them before it knew asyncio, on each build here):
//   3.8-3.10: <module>;run;run_until_complete;run_forever;_run_once;_run;<task code>
//   3.11+:    <module>;run;Runner.run;BaseEventLoop.run_until_complete;BaseEventLoop.run_forever;
//             BaseEventLoop._run_once;Handle._run;<task code>
// plus the pure-Python task's __step/__wakeup (asyncio.tasks._PyTask). asyncio.run's own "run" is
// left out: the name is too common to mean the plumbing.
inline Names loop_plumbing(const Interpreter& interpreter) {
    Names names;
    if (minor_of(interpreter) >= 11) names.push_back("Runner.run");
    for (const char* name : {"run_until_complete", "run_forever", "_run_once"})
        names.push_back(method(interpreter, "BaseEventLoop", name));
    names.push_back(method(interpreter, "Handle", "_run"));
    for (const char* name : {"__step", "__wakeup", "__step_run_and_handle_result"})
        names.push_back(method(interpreter, "Task", name));
    return names;
}

// The first plumbing name in `names`, or "".
inline std::string plumbing_in(const Names& names, const Names& plumbing) {
    for (const auto& n : names)
        if (has(plumbing, n)) return n;
    return "";
}

inline long index_of(const Names& names, const std::string& name) {
    auto it = std::find(names.begin(), names.end(), name);
    return it == names.end() ? -1 : long(it - names.begin());
}

// Where `run` appears in `names` as consecutive frames, or -1.
inline long consecutive(const Names& names, const Names& run) {
    if (run.empty() || names.size() < run.size()) return -1;
    for (size_t i = 0; i + run.size() <= names.size(); i++)
        if (std::equal(run.begin(), run.end(), names.begin() + long(i))) return long(i);
    return -1;
}

inline std::string joined(const Names& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ";") + n;
    return s;
}

// The k heaviest stacks by function names, for failure messages.
inline std::string top_stacks(const std::map<std::string, uint64_t>& folded, size_t k = 10) {
    std::map<std::string, uint64_t> by_names;
    for (const auto& [stack, n] : folded) by_names[joined(function_names(stack))] += n;
    std::vector<std::pair<uint64_t, std::string>> v;
    for (const auto& [names, n] : by_names) v.emplace_back(n, names);
    std::sort(v.rbegin(), v.rend());
    std::string out = "heaviest stacks (" + std::to_string(total(folded)) + " samples in all):\n";
    for (size_t i = 0; i < v.size() && i < k; i++) out += "  " + std::to_string(v[i].first) + " " + v[i].second + "\n";
    return out;
}

// Root frame -> total weight (with --group-by task each root names a task).
inline std::map<std::string, uint64_t> per_root(const std::map<std::string, uint64_t>& folded) {
    std::map<std::string, uint64_t> roots;
    for (const auto& [stack, n] : folded) roots[split_frames(stack).front()] += n;
    return roots;
}

inline std::string dump_roots(const std::map<std::string, uint64_t>& roots, size_t k = 20) {
    std::vector<std::pair<uint64_t, std::string>> v;
    for (const auto& [root, n] : roots) v.emplace_back(n, root);
    std::sort(v.rbegin(), v.rend());
    std::string out = std::to_string(roots.size()) + " roots, heaviest:\n";
    for (size_t i = 0; i < v.size() && i < k; i++) out += "  " + std::to_string(v[i].first) + " " + v[i].second + "\n";
    return out;
}

// The root frame --group-by task gives a task: task "NAME" (COROUTINE FUNCTION).
inline std::string task_root(const std::string& name, const std::string& coroutine) {
    return "task \"" + name + "\" (" + coroutine + ")";
}

// CPU seconds (user + system) of the children this process has reaped so far.
inline double reaped_children_cpu_s() {
    struct rusage usage {};
    getrusage(RUSAGE_CHILDREN, &usage);
    return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace pyat::test::asyncio
