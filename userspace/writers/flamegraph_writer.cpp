#include "writers/flamegraph_writer.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <ctime>
#include <map>
#include <memory>

#include "flamegraph_js.h"  // generated from writers/flamegraph.js
#include "writers/folded_writer.h"
#include "base/text_encoding.h"

namespace pyat {

namespace {

constexpr int image_width = 1200;
constexpr int pad = 10;
constexpr int frame_height = 16;
constexpr int header_height = 66;
constexpr int footer_height = 34;
constexpr double min_fraction = 0.001;  // frames narrower than 0.1% of the total are left out

struct Node {
    uint64_t total = 0;
    std::map<std::string, std::unique_ptr<Node>> children;  // by label: deterministic order
};

// Well-formed XML text for any bytes: printable_text leaves only characters XML allows.
std::string xml_escape(std::string_view raw) {
    const std::string text = printable_text(raw);
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default:
                if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') out += c;
        }
    }
    return out;
}

// FNV-1a: stable across runs and machines, unlike std::hash.
uint32_t stable_hash(std::string_view s) {
    uint32_t h = 2166136261u;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    return h;
}

// Warm colours keyed by the function name (the label before " ("); neutral grey for synthetic
// frames (process roots, "[...]" markers) and the base.
std::string colour(const std::string& label) {
    auto paren = label.find(" (");
    if (paren == std::string::npos || label.front() == '[') return "rgb(200,200,205)";
    uint32_t h = stable_hash(std::string_view(label).substr(0, paren));
    return fmt::format("rgb({},{},{})", 205 + h % 50, 80 + (h >> 8) % 150, (h >> 16) % 60);
}

int depth_of(const Node& n) {
    int d = 0;
    for (const auto& [label, child] : n.children) d = std::max(d, 1 + depth_of(*child));
    return d;
}

class FrameEmitter {
public:
    FrameEmitter(std::ostream& out, uint64_t total, int base_y, const char* unit)
        : out_(out), total_(total), base_y_(base_y), unit_(unit) {}

    void emit(const std::string& label, const Node& node, uint64_t offset, int depth) {
        double x = double(offset) / double(total_), w = double(node.total) / double(total_);
        if (w < min_fraction) return;
        double px = pad + x * (image_width - 2 * pad), pw = w * (image_width - 2 * pad);
        int y = base_y_ - (depth + 1) * frame_height;
        std::string fill = depth == 0 ? "rgb(200,200,205)" : colour(label);
        std::string text = xml_escape(label);
        fmt::print(out_,
                   "<g class=\"f\" data-x=\"{:.6f}\" data-w=\"{:.6f}\" data-d=\"{}\" data-fill=\"{}\" "
                   "data-label=\"{}\"><title>{} — {} {}, {:.2f}%</title>"
                   "<rect x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\" rx=\"2\" ry=\"2\"/>"
                   "<text x=\"{:.2f}\" y=\"{}\"></text></g>\n",
                   x, w, depth, fill, text, text, node.total, unit_, 100.0 * w, px, y, std::max(pw - 0.5, 0.1),
                   frame_height - 1, fill, px + 3, y + frame_height - 4);
        uint64_t child_offset = offset;
        for (const auto& [child_label, child] : node.children) {
            emit(child_label, *child, child_offset, depth + 1);
            child_offset += child->total;
        }
    }

private:
    std::ostream& out_;
    uint64_t total_;
    int base_y_;
    const char* unit_;
};

std::string subtitle(const Profile& profile, uint64_t total) {
    const RunInfo& run = profile.run;
    std::time_t start = std::time_t(run.start_unix_s);
    std::tm utc{};
    gmtime_r(&start, &utc);
    if (run.traced)
        return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC, {:.1f} s, --mode trace: ns of wall-clock time in calls ({}), "
                           "{} ns in all, {} events lost",
                           utc, run.duration_s, run.estimated_times ? "estimated" : "measured", total,
                           run.lost_samples);
    std::string clock = run.clock == Clock::wall
                            ? "wall clock (on-CPU + off-CPU; weights of concurrent threads add up)"
                            : "cpu clock (on-CPU time only)";
    return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC, {:.1f} s, {}, {} Hz, {} samples, {} lost", utc, run.duration_s,
                       clock, run.hz, total, run.lost_samples);
}

}  // namespace

void write_flamegraph(const Profile& profile, std::ostream& out) {
    Node root;
    for (const auto& [frames, weight] : labelled_stacks(profile)) {
        Node* node = &root;
        node->total += weight;
        for (const auto& label : frames) {
            auto& child = node->children[label];
            if (!child) child = std::make_unique<Node>();
            child->total += weight;
            node = child.get();
        }
    }
    const int depth = root.total ? depth_of(root) + 1 : 1;
    const int height = header_height + depth * frame_height + footer_height;
    const int base_y = header_height + depth * frame_height;

    fmt::print(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n");
    fmt::print(out,
               "<svg version=\"1.1\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" onload=\"init(evt)\" "
               "xmlns=\"http://www.w3.org/2000/svg\">\n",
               image_width, height);
    fmt::print(out,
               "<style>text {{ font-family: Verdana, sans-serif; font-size: 12px; fill: #000; }}\n"
               "#title {{ font-size: 17px; }} #subtitle {{ fill: #555; }}\n"
               ".control {{ cursor: pointer; fill: #1a55a0; }} g.f {{ cursor: pointer; }}\n"
               "g.f:hover rect {{ stroke: #000; stroke-width: 0.5; }}</style>\n");
    fmt::print(out, "<script type=\"text/ecmascript\"><![CDATA[\n{}]]></script>\n", flamegraph_script);
    fmt::print(out, "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#f6f6f2\"/>\n");
    fmt::print(out, "<text id=\"title\" x=\"{}\" y=\"24\" text-anchor=\"middle\">pyasynctrace: {}</text>\n",
               image_width / 2, xml_escape(profile.run.target_summary));
    fmt::print(out, "<text id=\"subtitle\" x=\"{}\" y=\"44\" text-anchor=\"middle\">{}</text>\n", image_width / 2,
               xml_escape(subtitle(profile, root.total)));
    fmt::print(out, "<text id=\"reset\" class=\"control\" x=\"{}\" y=\"24\" style=\"opacity:0.4\">Reset zoom</text>\n",
               pad);
    fmt::print(out, "<text id=\"search\" class=\"control\" x=\"{}\" y=\"24\" text-anchor=\"end\">Search</text>\n",
               image_width - pad);
    fmt::print(out,
               "<text id=\"clear\" class=\"control\" x=\"{}\" y=\"44\" text-anchor=\"end\" style=\"display:none\">"
               "Clear search</text>\n",
               image_width - pad);
    fmt::print(out, "<text id=\"details\" x=\"{}\" y=\"{}\"> </text>\n", pad, height - 12);
    fmt::print(out, "<text id=\"matched\" x=\"{}\" y=\"{}\" text-anchor=\"end\"></text>\n", image_width - pad,
               height - 12);
    fmt::print(out, "<g id=\"frames\">\n");
    if (root.total == 0) {
        fmt::print(out, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no samples</text>\n", image_width / 2,
                   base_y - 4);
    } else {
        FrameEmitter emitter(out, root.total, base_y, profile.run.traced ? "ns" : "samples");
        emitter.emit("all", root, 0, 0);
    }
    fmt::print(out, "</g>\n</svg>\n");
}

}  // namespace pyat
