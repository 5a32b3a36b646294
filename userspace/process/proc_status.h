// What /proc says of any process: alive or not, its parent, command line, executable and name.
// Each returns an empty value (0, "") when the process is gone or the file unreadable.
#pragma once

#include <sys/types.h>

#include <string>

namespace pyat {

bool process_exists(pid_t pid);             // alive and not a zombie
pid_t parent_of(pid_t pid);                 // from /proc/PID/stat
std::string read_command_line(pid_t pid);   // arguments joined by spaces
std::string executable_in_maps(pid_t pid);  // /proc/PID/exe as /proc/PID/maps names it (" (deleted)" kept)
std::string read_executable(pid_t pid);     // the same without " (deleted)"
std::string read_comm(pid_t pid);           // /proc/PID/comm, without its newline

// A small /proc file whole ("" if unreadable).
std::string read_small_file(const std::string& path);

}  // namespace pyat
