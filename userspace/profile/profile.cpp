#include "profile/profile.h"

#include <functional>

namespace pyat {

namespace {
size_t mix(size_t seed, size_t v) {
    return seed ^ (v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}
}  // namespace

size_t StackHash::operator()(const Stack& s) const noexcept {
    size_t h = s.size();
    for (const auto& f : s) h = mix(h, (size_t(f.function) << 32) | f.line);
    return h;
}

size_t GroupedStackHash::operator()(const GroupedStackKey& s) const noexcept {
    return mix(StackHash{}(s.frames), s.group);
}

size_t ProcessProfile::FunctionHash::operator()(const Function& f) const noexcept {
    return mix(mix(std::hash<std::string>{}(f.name), std::hash<std::string>{}(f.file)),
               f.first_line);
}

uint32_t ProcessProfile::intern(const Function& f) {
    auto [it, added] = index_.try_emplace(f, uint32_t(functions.size()));
    if (added) functions.push_back(f);
    return it->second;
}

uint32_t ProcessProfile::add_group(SampleGroup group) {
    groups.push_back(std::move(group));
    return uint32_t(groups.size() - 1);
}

void ProcessProfile::add(const Stack& stack, uint64_t weight, uint32_t group) {
    if (!weight) return;
    if (auto known = stacks.find(GroupedStackKey{group, stack}); known != stacks.end())
        known->second += weight;
    else
        stacks.emplace(GroupedStack{group, stack}, weight);
}

uint64_t ProcessProfile::total() const {
    uint64_t t = 0;
    for (const auto& [stack, w] : stacks) t += w;
    return t;
}

uint64_t Profile::total() const {
    uint64_t t = 0;
    for (const auto& p : processes) t += p.total();
    return t;
}

const char* clock_name(Clock c) { return c == Clock::cpu ? "cpu" : "wall"; }

}  // namespace pyat
