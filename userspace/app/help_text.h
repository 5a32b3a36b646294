// The layout and fixed texts of --help: synopsis, description, footer, wrapped option texts.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

namespace pyat {

// Gives `app` our help layout: synopsis, description, option columns and footer.
void use_help_layout(CLI::App& app);

// An option's description wrapped to the help's description column, ending with an example on a
// line of its own ("e.g. ...").
std::string describe(std::string_view text, std::string_view example);

}  // namespace pyat
