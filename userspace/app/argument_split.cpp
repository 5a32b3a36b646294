#include "app/argument_split.h"

#include <fmt/format.h>

#include <string_view>

namespace pyat {

namespace {

// Every option we know. The command line is split and normalised with this table before CLI11
// sees it (see split_arguments), so that a value is never mistaken for an option ("-p -3",
// "-o -x.svg") and a command's own flags are never parsed as ours.
struct Flag {
    char short_name;  // 0: long only
    std::string_view long_name;
    bool takes_value;
};
constexpr Flag flags[] = {
    {'h', "--help", false},    {'V', "--version", false}, {'q', "--quiet", false},
    {'p', "--pid", true},      {'d', "--duration", true}, {'o', "--output", true},
    {0, "--format", true},     {0, "--hz", true},         {0, "--clock", true},
    {0, "--group-by", true},   {0, "--block-threshold", true}, {0, "--raw-stacks", false},
    {0, "--deferred-log", false}, {0, "--no-deferred-log", false}, {0, "--mode", true}, {0, "--filter", true}, {0, "--subprocesses", false},
    {0, "--asyncio-steps", false},
};

constexpr std::string_view subcommands[] = {"record", "dump", "top"};

bool is_subcommand(std::string_view word) {
    for (auto name : subcommands)
        if (name == word) return true;
    return false;
}

const Flag* find_long(std::string_view name) {
    for (const auto& f : flags)
        if (f.long_name == name) return &f;
    return nullptr;
}

const Flag* find_short(char c) {
    for (const auto& f : flags)
        if (f.short_name && f.short_name == c) return &f;
    return nullptr;
}

// "-p/--pid" or "--hz": how messages name an option.
std::string display_name(const Flag& f) {
    return f.short_name ? fmt::format("-{}/{}", f.short_name, f.long_name) : std::string(f.long_name);
}

}  // namespace

SplitArguments split_arguments(int argc, const char* const* argv) {
    SplitArguments s;
    auto fail = [&](std::string message) {
        if (!s.error) s.error = std::move(message);
    };
    auto add = [&](const Flag& f, const std::optional<std::string>& value) {
        if (f.long_name == "--help") s.help = true;
        if (f.long_name == "--version") s.version = true;
        if (!f.takes_value) {
            s.ours.emplace_back(f.long_name);
        } else if (!value) {
            fail(fmt::format("{} needs a value", display_name(f)));
        } else if (value->empty()) {
            fail(fmt::format("{} needs a value, got an empty one", display_name(f)));
        } else {
            s.ours.push_back(fmt::format("{}={}", f.long_name, *value));
        }
    };
    int first = 1;
    if (argc > 1 && argv[1] && is_subcommand(argv[1])) {
        s.subcommand = argv[1];
        first = 2;
    }
    for (int i = first; i < argc; i++) {
        std::string_view arg = argv[i] ? argv[i] : "";
        auto next_value = [&]() -> std::optional<std::string> {
            if (i + 1 < argc && argv[i + 1]) return std::string(argv[++i]);
            return std::nullopt;
        };
        if (arg == "--") {
            s.separator = true;
            for (int j = i + 1; j < argc; j++) s.command.emplace_back(argv[j] ? argv[j] : "");
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            if (arg.empty() || arg == "-") {
                fail(fmt::format("unexpected argument '{}'", arg));
                continue;
            }
            if (is_subcommand(arg)) {  // "pyasynctrace --hz 10 top": a word out of place, not a program
                fail(fmt::format("'{0}' names a subcommand and goes first (pyasynctrace {0} ...); to launch a "
                                 "program called {0}, put -- before it",
                                 arg));
                break;
            }
            for (int j = i; j < argc; j++) s.command.emplace_back(argv[j] ? argv[j] : "");
            break;
        }
        if (arg.starts_with("--")) {
            size_t eq = arg.find('=');
            std::string_view name = arg.substr(0, eq);
            const Flag* f = find_long(name);
            if (!f) {
                fail(fmt::format("unknown option '{}'", name));
            } else if (eq != std::string_view::npos) {
                if (f->takes_value)
                    add(*f, std::string(arg.substr(eq + 1)));
                else
                    fail(fmt::format("{} takes no value", f->long_name));
            } else {
                add(*f, f->takes_value ? next_value() : std::nullopt);
            }
            continue;
        }
        // A cluster of short options: "-q", "-qp 42", "-p42", "-qp42".
        for (size_t k = 1; k < arg.size(); k++) {
            const Flag* f = find_short(arg[k]);
            if (!f) {
                fail(fmt::format("unknown option '-{}'", arg[k]));
                break;
            }
            if (!f->takes_value) {
                add(*f, std::nullopt);
                continue;
            }
            add(*f, k + 1 < arg.size() ? std::optional<std::string>(arg.substr(k + 1)) : next_value());
            break;
        }
    }
    return s;
}

}  // namespace pyat
