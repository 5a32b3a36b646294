#include "writers/folded_writer.h"

#include <algorithm>

#include "profile/frame_label.h"
#include "base/text_encoding.h"

namespace pyat {

std::map<std::vector<std::string>, uint64_t> labelled_stacks(const Profile& profile) {
    std::map<std::vector<std::string>, uint64_t> stacks;
    const bool rooted = profile.processes.size() > 1;
    for (const auto& process : profile.processes) {
        std::vector<std::string> labels(process.functions.size());
        std::transform(process.functions.begin(), process.functions.end(), labels.begin(), frame_label);
        for (const auto& [stack, weight] : process.stacks) {
            std::vector<std::string> frames;
            frames.reserve(stack.size() + 1);
            if (rooted) frames.push_back(process.root_label());
            for (const auto& f : stack) frames.push_back(labels[f.function]);
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
