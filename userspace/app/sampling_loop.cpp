#include "app/sampling_loop.h"

#include <fmt/format.h>

#include "base/epoll_set.h"

namespace pyat {

LoopEnd poll_until_stopped(SamplingParts& run, std::chrono::steady_clock::time_point start) {
    using Steady = std::chrono::steady_clock;
    using namespace std::chrono_literals;
    const Options& options = run.options;
    EpollSet ready({run.sampler.epoll_fd(), run.signals.fd()});
    const auto deadline = options.duration_s ? start + std::chrono::duration_cast<Steady::duration>(
                                                           std::chrono::duration<double>(*options.duration_s))
                                             : Steady::time_point::max();
    auto next_status = start;
    LoopEnd end;
    while (end.reason.empty()) {
        // A process that just exec'd is looked at again every few ms until its interpreter is up.
        ready.wait(run.discovery && run.discovery->retrying() ? 5 : run.aggregator.wait_ms(run.runtimes.wait_ms(50)));
        run.sampler.poll(0);
        run.runtimes.wake(run.context);
        if (auto sig = run.signals.take()) {
            end.signal = sig;
            end.reason = sig->description();
            if (run.launched) run.launched->pass_on(*sig);
        }

        auto now = Steady::now();
        run.targets.update(run.events, now);
        run.runtimes.wake(run.context);  // what a process sent before it exited, read just now
        if (run.launched) run.launched->reap();
        run.aggregator.poll();
        run.runtimes.look_again(now, [&](pid_t pid) { return run.targets.live().count(pid) != 0; }, run.context);
        run.blocking.show(run.aggregator.take_new_blocking(), run.clock_offsets, run.status);

        const bool none_left = run.targets.live().empty();
        if (now >= deadline) end.reason = "duration reached";
        if (options.mode == TargetMode::attach_pid && none_left) end.reason = "the target exited";
        if (run.launched && run.launched->exited() && none_left) end.reason = "the command exited";

        if (now >= next_status) {
            double elapsed = std::chrono::duration<double>(now - start).count();
            run.status.show(fmt::format("pyasynctrace: {:.1f} s  targets {}  samples {}  lost {}", elapsed,
                                        run.targets.live().size(), run.aggregator.samples(),
                                        run.sampler.lost_samples() + run.sampler.lost_off_cpu()));
            next_status = now + 500ms;
        }
    }
    return end;
}

}  // namespace pyat
