// What each CPython version's USDT probes do in a build --with-dtrace (data: probes/cpython/usdt/),
// for --mode trace: whether function__entry and function__return fire for every call, and the
// YIELD_VALUE opcode that tells a generator's suspension from a return when only returns fire.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pyat {

enum class FunctionProbes {
    none,              // no function probes, whatever the build
    return_only,       // function__return on every return; function__entry only for frames entered from C
    entry_and_return,  // both, for every call
};

struct CpythonUsdt {
    int major = 0;
    int minor = 0;
    const char* source = "";  // the probes/ file it came from
    FunctionProbes function_probes = FunctionProbes::none;
    uint8_t yield_value_opcode = 0;  // 0: unknown
};

const std::vector<CpythonUsdt>& known_cpython_usdt();
// nullptr: a version not described under probes/cpython/usdt/.
const CpythonUsdt* find_cpython_usdt(int major, int minor);
// The versions without function probes, as a reader would say them ("3.12 to 3.14").
std::string versions_without_function_probes();

}  // namespace pyat
