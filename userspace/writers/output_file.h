// Output files as root may write them: a path is resolved without following a symbolic link
// another user planted, only regular files are ever replaced (never opened: a FIFO cannot block
// us), and each file is written whole to a temporary beside it, then renamed into place, mode 0644
// at most. Used by the start-up check and by every writer.
#pragma once

#include <sys/types.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "writers/registry.h"

namespace pyat {

// Where an output path leads, every symbolic link on the way resolved by us, component by
// component. A link in a sticky world-writable directory (/tmp) is followed only when it belongs
// to us (our effective UID) or to the directory's owner: the kernel's fs.protected_symlinks rule,
// enforced whatever the sysctl says.
struct OutputDestination {
    std::string path;       // as given
    std::string resolved;   // absolute, links resolved: the directory entry that is written
    UniqueFd directory;     // O_PATH descriptor of the directory that holds it
    std::string name;       // its name in that directory
    dev_t directory_dev = 0;
    ino_t directory_ino = 0;
    bool exists = false;    // a regular file is there now (anything else is refused)
    dev_t dev = 0;
    ino_t ino = 0;

    // Same directory entry, or the same existing file.
    bool same_file(const OutputDestination& other) const;
};

// Throws pyat::Error "cannot write PATH: reason" (one line) when the path cannot lead to a
// regular file we may replace: a directory on the way is missing, a link is refused, the
// destination exists and is not a regular file (FIFO, device, socket, directory).
OutputDestination resolve_output(const std::string& path);

// resolve_output, plus a test that the file can be made there (a temporary created and removed
// at once) and that an existing file is writable by us. Leaves nothing behind and never opens
// the destination.
void check_output_writable(const std::string& path);

// Every output checked with check_output_writable, and no two the same file (through a link,
// say). When `per_process_files`, an output of a per-process format (callgrind) may become one
// file per process, "<path>.<pid>": no other output may have such a name.
void check_outputs(const std::vector<OutputSpec>& outputs, bool per_process_files);

// Writes PATH whole: `body` streams into a new temporary file in the destination's directory
// (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0644 at most whatever the umask or a default ACL says; a umask
// asking for less is honoured), which is then renamed over the destination. On any failure the
// temporary is removed and pyat::Error "cannot write PATH: reason" is thrown; the destination is
// then as it was. Returns where the file went.
OutputDestination write_output_file(const std::string& path, const std::function<void(std::ostream&)>& body);

}  // namespace pyat
