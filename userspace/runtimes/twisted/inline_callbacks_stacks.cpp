#include "runtimes/twisted/inline_callbacks_stacks.h"

#include <algorithm>

namespace pyat {
namespace {

bool contains(const std::vector<std::string>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

std::string_view short_name(std::string_view qualified) {
    size_t dot = qualified.rfind('.');
    return dot == std::string_view::npos ? qualified : qualified.substr(dot + 1);
}

InlineCallbacksStacks::InlineCallbacksStacks(const TwistedDescription& d)
    : defer_file_(d.defer_file), driver_(d.inline_callbacks), first_run_(split_names(d.first_run_frames)), resume_(split_names(d.resume_frames)) {
    for (const auto& entry : split_names(d.reactor_entries)) {
        size_t colon = entry.rfind(':');
        if (colon != std::string::npos) reactor_entries_.emplace_back(entry.substr(0, colon), entry.substr(colon + 1));
    }
}

uint8_t InlineCallbacksStacks::role(const ProcessProfile& profile, uint32_t function) {
    if (function >= roles_.size()) roles_.resize(profile.functions.size() + 64, 0);
    uint8_t& r = roles_[function];
    if (r) return r;
    r = role_known;
    const Function& f = profile.functions[function];
    std::string_view name = short_name(f.name);
    if (std::string_view(f.file).ends_with(defer_file_)) {
        if (contains(first_run_, name)) r |= role_first_run;
        if (contains(resume_, name)) r |= role_resume;
        if (name == driver_) r |= role_driver;
    }
    for (const auto& [file, fn] : reactor_entries_)
        if (name == fn && std::string_view(f.file).ends_with(file)) r |= role_reactor;
    return r;
}

bool InlineCallbacksStacks::runs_reactor(const ProcessProfile& profile, const Stack& physical) {
    for (const auto& f : physical)
        if (role(profile, f.function) & role_reactor) return true;
    return false;
}

bool InlineCallbacksStacks::resumed_by_generator_end(const ProcessProfile& profile, const Stack& physical,
                                                     size_t resumed) {
    // An ending generator's driver calls status.deferred.callback() with no generator frame above it.
    for (size_t i = 0; i + 1 < resumed && i + 1 < physical.size(); i++)
        if ((role(profile, physical[i].function) & role_driver) &&
            (role(profile, physical[i + 1].function) & (role_resume | role_driver)) == role_resume)
            return true;
    return false;
}

Stack InlineCallbacksStacks::rewrite(const ProcessProfile& profile, const Stack& physical,
                                     std::optional<size_t> resumed, const Stack& awaiting) {
    Stack out;
    out.reserve(physical.size() + awaiting.size());
    auto keep = [&](size_t from, size_t to) {
        for (size_t i = from; i < to; i++)
            if (!(role(profile, physical[i].function) & role_first_run)) out.push_back(physical[i]);
    };
    if (resumed && *resumed < physical.size()) {
        size_t r = *resumed;
        // Below the resumed generator: keep what runs the reactor, hide the dispatch from there up;
        // with no reactor on the stack, hide only the Deferred machinery that resumed it.
        size_t cut = r;
        for (size_t i = 0; i < r; i++)
            if (role(profile, physical[i].function) & role_reactor) {
                cut = i;
                break;
            }
        if (cut == r)
            while (cut > 0 && (role(profile, physical[cut - 1].function) & role_resume)) cut--;
        keep(0, cut);
        out.insert(out.end(), awaiting.begin(), awaiting.end());
        size_t logical_root = out.size();
        keep(r + 1, physical.size());
        // Caught between generators (one ended, its Deferred is resuming the next): the machinery
        // in transit is plumbing too.
        while (out.size() > logical_root && (role(profile, out.back().function) & role_resume)) out.pop_back();
    } else {
        keep(0, physical.size());
    }
    return out.empty() ? physical : out;
}

}  // namespace pyat
