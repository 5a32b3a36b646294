#include "runtimes/asyncio/awaited_by_description.h"

#include <tuple>
#include <vector>

namespace pyat {
namespace {
#include "asyncio_awaited_by.inc"
}  // namespace

const AwaitedByDescription* find_awaited_by_description(int major, int minor) {
    static const std::vector<AwaitedByDescription> all = generated_awaited_by_descriptions();
    const AwaitedByDescription* best = nullptr;
    for (const auto& d : all)
        if (std::tie(d.major, d.minor) <= std::tie(major, minor) &&
            (!best || std::tie(d.major, d.minor) > std::tie(best->major, best->minor)))
            best = &d;
    return best;
}

}  // namespace pyat
