// The live status line on a terminal (stderr), and notes printed above it.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string>

namespace pyat {

class StatusLine {
public:
    explicit StatusLine(bool enabled) : enabled_(enabled) {}
    ~StatusLine() { clear(); }
    void show(const std::string& text) {
        if (!enabled_) return;
        fmt::print(stderr, "\r\033[K{}", text);
        std::fflush(stderr);
        shown_ = true;
    }
    void clear() {
        if (shown_) fmt::print(stderr, "\r\033[K");
        shown_ = false;
    }
    void note(const std::string& text) {  // a line of its own, above the status line
        clear();
        fmt::print(stderr, "{}\n", text);
    }

private:
    bool enabled_;
    bool shown_ = false;
};

}  // namespace pyat
