#include "writers/folded_writer.h"

#include <algorithm>

#include "profile/frame_label.h"
#include "base/text_encoding.h"

namespace pyat {

std::map<std::vector<std::string>, uint64_t> labelled_stacks(const Profile& profile) {
    std::map<std::vector<std::string>, uint64_t> stacks;
    const bool rooted = profile.processes.size() > 1;
    for (const auto& process : profile.processes) {
        std::vector<std::string> labels(process.functions.size()), group_labels(process.groups.size());
        std::transform(process.functions.begin(), process.functions.end(), labels.begin(),
                       [](const Function& f) { return frame_label(f); });
        std::transform(process.groups.begin(), process.groups.end(), group_labels.begin(), group_label);
        const std::string process_root = rooted ? process_label(process) : "";
        for (const auto& [stack, weight] : process.stacks) {
            std::vector<std::string> frames;
            frames.reserve(stack.frames.size() + 2);
            if (rooted) frames.push_back(process_root);
            if (stack.group != no_group) frames.push_back(group_labels[stack.group]);
            for (const auto& f : stack.frames) frames.push_back(labels[f.function]);
            stacks[frames] += weight;
        }
    }
    return stacks;
}

void write_folded(const Profile& profile, std::ostream& out) {
    for (const auto& [frames, weight] : labelled_stacks(profile)) {
        if (!weight) continue;
        std::string line;
        for (const auto& frame : frames) {
            if (!line.empty()) line += ';';
            // One line per stack, frames split at ';': names keep neither a line break nor a ';'.
            for (char c : printable_text(frame)) line += c == ';' ? ':' : c;
        }
        out << line << ' ' << weight << '\n';
    }
}

}  // namespace pyat
