/* Recording one Python frame into a sample, its code object checked and, the first time it is
 * seen, marked for naming (lib/code_names.bpf.h). Used by the frame walk and by the runtimes'
 * hooks that add frames not on the thread's stack. */
#ifndef PYAT_RECORD_FRAME_BPF_H
#define PYAT_RECORD_FRAME_BPF_H

#include "abi/cpython.h"
#include "abi/events.h"
#include "lib/code_names.bpf.h"
#include "lib/user_memory.bpf.h"

/* CPython 3.13+ pushes a static code object, _Py_InitCleanup, between a caller and the __init__
 * that a specialised class call runs (CALL_ALLOC_AND_ENTER_INIT): its name, qualified name and file
 * are one str ("__init__") and its first line is 0. No code the user wrote has a name that is the
 * very object of its file name at line 0, so this is never a user's frame; the pointers compared are
 * read already, and only the rare code whose name is its file costs one more read. */
static __always_inline int is_interpreter_shim(const struct py_process *proc, __u64 code, __u64 name, __u64 filename)
{
    if (name != filename)
        return 0;
    __s32 first_line = -1;
    if (bpf_probe_read_user(&first_line, sizeof(first_line), (const void *)(code + proc->code.code_firstlineno)))
        return 0;
    return first_line == 0;
}

/* Record one frame (code already untagged) as sample frame `at & 0xffff` of process `proc`; a code
 * object seen for the first time is marked PYAT_CODE_TO_NAME, for name_new_frames to name once the
 * walk is over. 0 on success; -1 when the frame cannot be read or its code is no code object (a
 * frame being set up or torn down): the walk ends there. A global function (the verifier checks it
 * once, with unknown arguments): inlined, the walk's frame count would have to be tracked exactly,
 * and the verifier would explore the walk once per count. 1: the frame is interpreter plumbing
 * (see is_interpreter_shim), not recorded; the walk goes on past it. */
__noinline int record_frame(const struct py_process *proc, __u64 frame, __u64 code, struct py_sample *s, __u32 at)
{
    __u32 idx = at & 0xffff;
    if (!proc || !s)
        return -1;
    const struct py_layout *l = &proc->layout;
    int fault = 0;
    __u64 filename = read_u64(code + l->code_filename, &fault);
    __u64 name = read_u64(code + l->code_name, &fault);
    if (fault)
        return -1;
    if (is_interpreter_shim(proc, code, name, filename))
        return 1;
    __s32 instr = -1;
    if (l->instr_is_pointer) {
        __u64 ip = read_u64(frame + l->frame_instr, &fault);
        __s64 off = (__s64)(ip - (code + l->code_adaptive));
        if (!fault && off >= -2 && off <= 0x7fffffff)
            instr = (__s32)off;
    } else {
        __s32 lasti = 0;
        if (bpf_probe_read_user(&lasti, sizeof(lasti), (const void *)(frame + l->frame_instr)) == 0 &&
            lasti >= 0)
            instr = lasti * l->lasti_scale;
    }
    if (idx >= PYAT_MAX_FRAMES)
        return -1;
    __u32 generation = known_code(code, code_tag(name, filename), s->hdr.pid);
    if (!generation) {
        if (proc->code.code_type && read_u64(code + proc->code.object_type, &fault) != proc->code.code_type)
            return -1;
        generation = PYAT_CODE_TO_NAME;
    }
    s->frames[idx].code = code;
    s->frames[idx].instr = instr;
    s->frames[idx].code_tag = generation;
    return 0;
}

#endif
