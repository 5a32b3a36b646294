// --asyncio-steps: where a traced process's C Task begins each step, for an entry uprobe that
// tells userspace the moment each task resumes. Found in the _asyncio extension as the process
// maps it: at task_step_impl where its symbol table names it (pyenv builds), else (a stripped
// module, 3.8-3.11) through its static tables: the step wrapper type's tp_call and the wakeup
// (TaskWakeupMethWrapper's tp_call on 3.8/3.9, the task_wakeup method's function from 3.10), read
// from the module's relative pointers; no code of the target is run and no symbol is needed.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "process/elf_file.h"
#include "process/proc_maps.h"
#include "cpython/cpython_layout.h"
#include "runtimes/asyncio/asyncio_layout.h"

namespace pyat {

struct TaskStepSite {
    const char* program = "";  // on_task_step_task_first / _task_second / _wrapped (bpf/asyncio/task_steps.bpf.h)
    uint64_t offset = 0;       // in the file, where the uprobe goes (an instruction the kernel emulates)
    std::string function;      // what it is, for messages: "task_step_impl", "TaskStepMethWrapper's tp_call"
};

struct TaskStepSites {
    std::string path;  // the module as /proc/PID/maps names it
    std::vector<TaskStepSite> sites;
    std::string why;   // empty sites: why none was found
};

// The sites in `module` (the ELF of the extension, or of the interpreter when _asyncio is built in).
std::vector<TaskStepSite> task_step_sites(const ElfFile& module, const CpythonLayout& cpython,
                                          const AsyncioLayout& layout, std::string& why);

// The _asyncio module PID maps, and its sites.
TaskStepSites find_task_step_sites(pid_t pid, const std::vector<Mapping>& maps, const std::string& interpreter,
                                   const CpythonLayout& cpython, const AsyncioLayout& layout);

}  // namespace pyat
