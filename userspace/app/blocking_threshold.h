// When a sampling run reports blocking (slices that ran too long without a switch or a return to
// the reactor), and the threshold it reports at.
#pragma once

#include "app/options.h"

namespace pyat {

// On whenever greenlet switches are hooked: they are hooked only when asked for (a uprobe costs the
// target ~5 us a switch), by --clock wall, --group-by greenlet or --block-threshold.
inline bool blocking_report_on(const Options& options) {
    return options.clock == Clock::wall || options.group_by == GroupBy::greenlet ||
           options.block_threshold_ms.has_value();
}

// In ms; 0: no blocking report.
inline unsigned block_threshold_ms(const Options& options) {
    return blocking_report_on(options) ? options.block_threshold_ms.value_or(default_block_threshold_ms) : 0;
}

}  // namespace pyat
