// The one exception type of the project: a message fit to show the user as-is.
#pragma once

#include <stdexcept>
#include <string>

namespace pyat {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace pyat
