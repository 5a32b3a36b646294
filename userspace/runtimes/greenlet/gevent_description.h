// What the tracer relies on in gevent, loaded from probes/greenlet/gevent/*.conf: the names that
// tell its hub's greenlet (idle while it waits for events) and its own wrapper frames apart.
#pragma once

#include <string>
#include <string_view>

namespace pyat {

struct GeventDescription {
    int major = 0, minor = 0;  // the gevent release described
    const char* source = "";
    const char* hub_type = "";          // tp_name of the hub's type, bare or module-qualified
    const char* hub_run = "";           // "file-suffix:function-suffix" of the hub's outermost frame
    const char* run_wrapper_file = "";  // file suffix of gevent's Greenlet.run (uncompiled)

    bool is_hub_type(std::string_view type_name) const;
    bool is_hub_run(std::string_view file, std::string_view function) const;
    bool is_run_wrapper(std::string_view file) const;
};

// The newest release described (an empty description, which matches nothing, if none is).
const GeventDescription& gevent_description();

}  // namespace pyat
