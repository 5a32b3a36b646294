#include "cpython/cpython_usdt.h"

#include <fmt/format.h>

namespace pyat {

namespace {
#include "cpython_usdt.inc"
}  // namespace

const std::vector<CpythonUsdt>& known_cpython_usdt() {
    static const std::vector<CpythonUsdt> all = generated_cpython_usdt();
    return all;
}

const CpythonUsdt* find_cpython_usdt(int major, int minor) {
    for (const auto& u : known_cpython_usdt())
        if (u.major == major && u.minor == minor) return &u;
    return nullptr;
}

std::string versions_without_function_probes() {
    std::string out;
    const CpythonUsdt* first = nullptr;  // of the current run of consecutive versions
    const CpythonUsdt* last = nullptr;
    auto flush = [&] {
        if (!first) return;
        out += out.empty() ? "" : ", ";
        out += first == last ? fmt::format("{}.{}", first->major, first->minor)
                             : fmt::format("{}.{} to {}.{}", first->major, first->minor, last->major, last->minor);
        first = last = nullptr;
    };
    for (const auto& u : known_cpython_usdt()) {  // sorted by version
        if (u.function_probes != FunctionProbes::none) {
            flush();
            continue;
        }
        if (last && !(u.major == last->major && u.minor == last->minor + 1)) flush();
        if (!first) first = &u;
        last = &u;
    }
    flush();
    return out;
}

}  // namespace pyat
