// greenlet (and gevent on it) behind the runtime contract: finds the extension in a traced
// process, hooks its switch function, and says what the hooks cost at the end.
#pragma once

#include <cstddef>

#include "runtimes/runtime.h"

namespace pyat {

class GreenletRuntime final : public Runtime {
public:
    std::string_view name() const override { return "greenlet"; }
    bool wanted(const Options& options) const override;
    void configure(const Options& options, SamplerConfig& config) const override;
    std::unique_ptr<RuntimeStacks> make_stacks() const override;
    std::vector<std::string_view> kernel_names() const override;
    Look look(const PythonProcess& process, RuntimeContext& context) override;
    std::chrono::milliseconds look_every(const Options&) const override { return std::chrono::seconds(1); }
    std::string blocking_end() const override { return hooked_ ? "a greenlet switch" : ""; }
    void summarize_costs(const RunEnd& end, std::vector<std::string>& lines) const override;

private:
    size_t hooked_ = 0;  // processes whose switches are followed
};

}  // namespace pyat
