#include "runtimes/registry.h"

#include "runtimes/asyncio/asyncio_runtime.h"
#include "runtimes/greenlet/greenlet_runtime.h"
#include "runtimes/twisted/twisted_runtime.h"

namespace pyat {

namespace {
using MakeRuntime = std::unique_ptr<Runtime> (*)();

template <typename R>
std::unique_ptr<Runtime> make() {
    return std::make_unique<R>();
}

// One line per runtime. The order is the order of their notes and summary lines.
constexpr MakeRuntime known_runtimes[] = {
    make<GreenletRuntime>,
    make<TwistedRuntime>,
    make<AsyncioRuntime>,
};
}  // namespace

std::vector<std::unique_ptr<Runtime>> all_runtimes() {
    std::vector<std::unique_ptr<Runtime>> out;
    for (MakeRuntime m : known_runtimes) out.push_back(m());
    return out;
}

std::vector<std::unique_ptr<Runtime>> wanted_runtimes(const Options& options) {
    std::vector<std::unique_ptr<Runtime>> out;
    for (auto& runtime : all_runtimes())
        if (runtime->wanted(options)) out.push_back(std::move(runtime));
    return out;
}

}  // namespace pyat
