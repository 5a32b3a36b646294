// How the profile's things are named in folded stacks, flame graphs, callgrind's group roots, the
// summary table, the blocking report and the Deferred log: the one place labels are built.
#pragma once

#include <string>
#include <string_view>

#include "profile/profile.h"

namespace pyat {

// Library paths shortened to their import path: ".../site-packages/twisted/web/server.py" ->
// "twisted/web/server.py", "/usr/lib/python3.11/json/decoder.py" -> "json/decoder.py".
std::string short_path(std::string_view file);

// "Server.handle (app.py:12)": code at a line of its (shortened) file.
std::string code_label(std::string_view name, std::string_view file, uint32_t line);

// A function at `line`: code_label, but synthetic frames (no file) keep their bare name.
std::string frame_label(const Function& f, uint32_t line);
// A function at its def line: "Server.handle (app.py:12)", "[no Python frame]".
std::string frame_label(const Function& f);

// A process as a root frame: "python3.11 [4242]".
std::string process_label(const ProcessProfile& process);

// A group as a root frame: thread "worker-1" [4243], thread [4243], greenlet 7 (handle_client),
// greenlet 7.
std::string group_label(const SampleGroup& group);

}  // namespace pyat
