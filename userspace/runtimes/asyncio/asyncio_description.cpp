#include "runtimes/asyncio/asyncio_description.h"

#include <algorithm>
#include <tuple>

#include "runtimes/twisted/twisted_description.h"  // split_names

namespace pyat {
namespace {
#include "asyncio_descriptions.inc"
}  // namespace

const AsyncioDescription* asyncio_description_for(int major, int minor) {
    static const std::vector<AsyncioDescription> all = [] {
        auto v = generated_asyncio_descriptions();
        std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
            return std::tie(a.major, a.minor) > std::tie(b.major, b.minor);
        });
        return v;
    }();
    for (const auto& d : all)
        if (std::tie(d.major, d.minor) <= std::tie(major, minor)) return &d;
    return nullptr;
}

std::vector<AttributePath> task_entry_paths(const AsyncioDescription& d) {
    std::vector<AttributePath> out;
    for (const auto& entry : split_names(d.task_entries)) {
        auto colon = entry.find(':');
        if (colon == std::string::npos) continue;
        AttributePath path{entry.substr(0, colon), {}};
        for (size_t i = colon + 1; i <= entry.size();) {
            size_t dot = std::min(entry.find('.', i), entry.size());
            if (dot > i) path.attributes.push_back(entry.substr(i, dot - i));
            i = dot + 1;
        }
        out.push_back(std::move(path));
    }
    return out;
}

}  // namespace pyat
