// A launched process stopped (SIGSTOP) from its exec until --mode trace has attached its probes:
// recorded in the hold table before it is stopped (the hold guard continues it when the tracer
// cannot) and continued on every way out.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include "process/hold_guard.h"
#include "process/hold_table.h"

namespace pyat {

class HeldProcess {
public:
    explicit HeldProcess(HoldTable& holds) : holds_(holds) {}
    ~HeldProcess() { resume(); }
    HeldProcess(const HeldProcess&) = delete;
    HeldProcess& operator=(const HeldProcess&) = delete;
    void hold(pid_t pid) {
        record_ = &holds_.hold(HoldKind::stopped, pid, -1, exec_stop_bound);
        kill(pid, SIGSTOP);
    }
    void resume() {
        if (record_ && !holds_.let_go(*record_)) let_go_by_guard_ = true;
        record_ = nullptr;
    }
    // The hold guard continued it before the tracer did (the tracer was stopped or too slow).
    bool let_go_by_guard() const { return let_go_by_guard_; }

private:
    HoldTable& holds_;
    HoldRecord* record_ = nullptr;
    bool let_go_by_guard_ = false;
};

}  // namespace pyat
