#include "app/hot_functions.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "profile/frame_label.h"
#include "base/text_encoding.h"

namespace pyat {

std::vector<HotFunction> hottest_functions(const Profile& profile, size_t n) {
    std::map<std::string, HotFunction> by_label;
    uint64_t total = 0;
    for (const auto& process : profile.processes) {
        std::vector<std::string> labels, group_labels;
        for (const auto& f : process.functions) labels.push_back(frame_label(f));
        for (const auto& g : process.groups) group_labels.push_back(group_label(g));
        for (const auto& [key, weight] : process.stacks) {
            // A group counts as the stack's root frame would.
            const std::string* group = key.group == no_group ? nullptr : &group_labels[key.group];
            const Stack& stack = key.frames;
            if (stack.empty() && !group) continue;
            total += weight;
            by_label[stack.empty() ? *group : labels[stack.back().function]].self += weight;
            if (group) by_label[*group].total += weight;
            std::set<uint32_t> seen;
            for (const auto& frame : stack)
                if (seen.insert(frame.function).second) by_label[labels[frame.function]].total += weight;
        }
    }
    std::vector<HotFunction> rows;
    for (auto& [label, row] : by_label) {
        row.label = label;
        row.self_pct = total ? 100.0 * double(row.self) / double(total) : 0;
        row.total_pct = total ? 100.0 * double(row.total) / double(total) : 0;
        rows.push_back(row);
    }
    std::sort(rows.begin(), rows.end(), [](const HotFunction& a, const HotFunction& b) {
        if (a.self != b.self) return a.self > b.self;
        if (a.total != b.total) return a.total > b.total;
        return a.label < b.label;
    });
    if (rows.size() > n) rows.resize(n);
    return rows;
}

std::string format_hot_table(const std::vector<HotFunction>& rows) {
    std::string out = "   self%  total%  function\n";
    for (const auto& r : rows)
        out += fmt::format("  {:6.1f}  {:6.1f}  {}\n", r.self_pct, r.total_pct, printable_text(r.label, terminal_name_bytes));
    return out;
}

}  // namespace pyat
