#include "runtimes/twisted/twisted_description.h"

#include <algorithm>
#include <tuple>

namespace pyat {
namespace {
#include "twisted_descriptions.inc"
}  // namespace

const std::vector<TwistedDescription>& known_twisted_descriptions() {
    static const std::vector<TwistedDescription> all = [] {
        auto v = generated_twisted_descriptions();
        std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
            return std::tie(a.major, a.minor) > std::tie(b.major, b.minor);
        });
        return v;
    }();
    return all;
}

std::vector<std::string> split_names(std::string_view names) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < names.size()) {
        while (i < names.size() && names[i] == ' ') i++;
        size_t j = i;
        while (j < names.size() && names[j] != ' ') j++;
        if (j > i) out.emplace_back(names.substr(i, j - i));
        i = j;
    }
    return out;
}

}  // namespace pyat
