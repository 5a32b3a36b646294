#include "process/privileges.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/error.h"

namespace pyat {

namespace {
constexpr int cap_sys_ptrace = 19;
constexpr int cap_sys_admin = 21;
constexpr int cap_perfmon = 38;
constexpr int cap_bpf = 39;

bool has(const __user_cap_data_struct (&data)[2], int cap) {
    return data[cap / 32].effective & (1u << (cap % 32));
}
}  // namespace

std::vector<std::string> missing_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &header, data) != 0) return {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE"};
    bool admin = has(data, cap_sys_admin);
    std::vector<std::string> missing;
    if (!admin && !has(data, cap_bpf)) missing.push_back("CAP_BPF");
    if (!admin && !has(data, cap_perfmon)) missing.push_back("CAP_PERFMON");
    if (!has(data, cap_sys_ptrace)) missing.push_back("CAP_SYS_PTRACE");
    return missing;
}

void require_privileges() {
    auto missing = missing_capabilities();
    if (missing.empty()) return;
    throw Error(fmt::format("pyasynctrace needs root, or the capabilities CAP_BPF, CAP_PERFMON and "
                            "CAP_SYS_PTRACE; this process lacks {} (run it with sudo)",
                            fmt::join(missing, ", ")));
}

}  // namespace pyat
