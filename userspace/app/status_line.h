// The live status line on a terminal (stderr), and notes printed above it.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "base/text_encoding.h"

namespace pyat {

class StatusLine {
public:
    explicit StatusLine(bool enabled) : enabled_(enabled) {}
    ~StatusLine() { clear(); }
    void show(const std::string& text) {
        if (!enabled_) return;
        fmt::print(stderr, "\r\033[K{}", printable_text(text));
        std::fflush(stderr);
        shown_ = true;
    }
    void clear() {
        if (shown_) fmt::print(stderr, "\r\033[K");
        shown_ = false;
    }
    // Lines of their own, above the status line; names from a target cannot move the cursor or
    // colour the terminal (each line goes through printable_text).
    void note(const std::string& text) {
        clear();
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            if (end > start || end < text.size()) fmt::print(stderr, "{}\n", printable_text(text.substr(start, end - start)));
            start = end + 1;
        }
    }

private:
    bool enabled_;
    bool shown_ = false;
};

}  // namespace pyat
