// How a function is named in folded stacks, flame graphs and the summary table.
#pragma once

#include <string>
#include <string_view>

#include "profile/profile.h"

namespace pyat {

// Library paths shortened to their import path: ".../site-packages/twisted/web/server.py" ->
// "twisted/web/server.py", "/usr/lib/python3.11/json/decoder.py" -> "json/decoder.py".
std::string short_path(std::string_view file);

// "Server.handle (app.py:12)"; synthetic frames (no file) keep their bare name.
std::string frame_label(const Function& f);

}  // namespace pyat
