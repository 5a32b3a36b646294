#include "runtimes/greenlet/gevent_description.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace pyat {

namespace {
#include "gevent_descriptions.inc"

bool ends_with_nonempty(std::string_view s, std::string_view suffix) {
    return !suffix.empty() && s.ends_with(suffix);
}
}  // namespace

bool GeventDescription::is_hub_type(std::string_view type_name) const {
    std::string_view hub(hub_type);
    if (hub.empty()) return false;
    return type_name == hub || (type_name.size() > hub.size() && type_name.ends_with(hub) &&
                                type_name[type_name.size() - hub.size() - 1] == '.');
}

bool GeventDescription::is_hub_run(std::string_view file, std::string_view function) const {
    std::string_view run(hub_run);
    auto colon = run.find(':');
    if (colon == std::string_view::npos) return false;
    return ends_with_nonempty(file, run.substr(0, colon)) && ends_with_nonempty(function, run.substr(colon + 1));
}

bool GeventDescription::is_run_wrapper(std::string_view file) const { return ends_with_nonempty(file, run_wrapper_file); }

const GeventDescription& gevent_description() {
    static const GeventDescription newest = [] {
        auto all = generated_gevent_descriptions();
        auto it = std::max_element(all.begin(), all.end(), [](const auto& a, const auto& b) {
            return std::tie(a.major, a.minor) < std::tie(b.major, b.minor);
        });
        return it == all.end() ? GeventDescription{} : *it;
    }();
    return newest;
}

}  // namespace pyat
