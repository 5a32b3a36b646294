#!/usr/bin/env python3
"""Write probes/cpython/X.Y.conf from the DWARF of a CPython build (via gdb).

Usage:
    gen_cpython_offsets.py FILE [-o OUT.conf]
    gen_cpython_offsets.py --all-pyenv [--pyenv-root DIR] [--probes-dir probes/cpython]

FILE is an unstripped libpython3.X.so or python3.X binary (the pyenv builds under
~/.pyenv/versions carry debug info). The layout of a minor version is shared by its patch
releases, so one build per minor version is enough; the stripped distribution builds of the same
minor version use the same offsets (checked at run time against _Py_DebugOffsets on 3.13+).

Each key below says where its value comes from, as a gdb expression per version range. Keys are
members of pyat::CpythonLayout (userspace/cpython/cpython_layout.h); `bpf.*` are the kernel walker's.
CPython 3.14 is not built here: its file is written by hand from the 3.14 headers (see
probes/cpython/3.14.conf); adding a version with a pyenv build is `--all-pyenv` after installing it.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

ALL = (0, 99)


def v(lo, hi=99):
    return (lo, hi)


# key -> [((min_minor, max_minor), source)], source one of:
#   "off:TYPE:member.path"  offset of a member       "size:TYPE"  sizeof
#   "enum:NAME"             value of an enumerator    "const:VALUE"  fixed by the design
FIELDS = [
    ("bpf.runtime_interpreters_head", [(ALL, "off:_PyRuntimeState:interpreters.head")]),
    ("bpf.interp_threads_head", [(v(0, 10), "off:PyInterpreterState:tstate_head"),
                                 (v(11), "off:PyInterpreterState:threads.head")]),
    ("bpf.tstate_next", [(ALL, "off:PyThreadState:next")]),
    ("bpf.tstate_thread_id", [(ALL, "off:PyThreadState:thread_id")]),
    ("tstate_interp", [(ALL, "off:PyThreadState:interp")]),
    ("bpf.tstate_native_thread_id", [(v(0, 10), "const:0"),
                                     (v(11), "off:PyThreadState:native_thread_id")]),
    ("bpf.current_frame_kind", [(v(0, 10), "const:CURRENT_FRAME_DIRECT"),
                                (v(11, 12), "const:CURRENT_FRAME_VIA_CFRAME"),
                                (v(13), "const:CURRENT_FRAME_DIRECT")]),
    ("bpf.tstate_frame", [(v(0, 10), "off:PyThreadState:frame"),
                          (v(11, 12), "const:0"),
                          (v(13), "off:PyThreadState:current_frame")]),
    ("bpf.tstate_cframe", [(v(0, 10), "const:0"), (v(11, 12), "off:PyThreadState:cframe"),
                           (v(13), "const:0")]),
    ("bpf.cframe_current_frame", [(v(0, 10), "const:0"),
                                  (v(11, 12), "off:_PyCFrame:current_frame"),
                                  (v(13), "const:0")]),
    ("bpf.frame_kind", [(v(0, 10), "const:FRAMES_FRAME_OBJECT"),
                        (v(11), "const:FRAMES_INTERPRETER_FRAME")]),
    ("bpf.frame_code", [(v(0, 10), "off:PyFrameObject:f_code"),
                        (v(11, 12), "off:_PyInterpreterFrame:f_code"),
                        (v(13), "off:_PyInterpreterFrame:f_executable")]),
    ("bpf.frame_previous", [(v(0, 10), "off:PyFrameObject:f_back"),
                            (v(11), "off:_PyInterpreterFrame:previous")]),
    ("bpf.frame_instr", [(v(0, 10), "off:PyFrameObject:f_lasti"),
                         (v(11, 12), "off:_PyInterpreterFrame:prev_instr"),
                         (v(13), "off:_PyInterpreterFrame:instr_ptr")]),
    ("bpf.instr_is_pointer", [(v(0, 10), "const:0"), (v(11), "const:1")]),
    # f_lasti counts bytes up to 3.9 and 2-byte code units in 3.10.
    ("bpf.lasti_scale", [(v(0, 9), "const:1"), (v(10, 10), "const:2"), (v(11), "const:1")]),
    ("bpf.frame_owner", [(v(0, 10), "const:0"), (v(11), "off:_PyInterpreterFrame:owner")]),
    # C-stack shim frames (3.12+) are not Python code: the walker skips owner >= this.
    ("bpf.owner_skip_min", [(v(0, 11), "const:0xff"), (v(12), "enum:FRAME_OWNED_BY_CSTACK")]),
    ("bpf.code_ptr_tag_mask", [(ALL, "const:0")]),
    ("bpf.code_filename", [(ALL, "off:PyCodeObject:co_filename")]),
    ("bpf.code_name", [(ALL, "off:PyCodeObject:co_name")]),
    ("bpf.code_adaptive", [(v(0, 10), "const:0"), (v(11), "off:PyCodeObject:co_code_adaptive")]),
    ("code_firstlineno", [(ALL, "off:PyCodeObject:co_firstlineno")]),
    ("code_qualname", [(v(0, 10), "const:0"), (v(11), "off:PyCodeObject:co_qualname")]),
    ("code_linetable", [(v(0, 9), "off:PyCodeObject:co_lnotab"),
                        (v(10), "off:PyCodeObject:co_linetable")]),
    ("line_table", [(v(0, 9), "const:lnotab"), (v(10, 10), "const:linetable310"),
                    (v(11), "const:location_table")]),
    ("bytes_size", [(ALL, "off:PyBytesObject:ob_base.ob_size")]),
    ("bytes_data", [(ALL, "off:PyBytesObject:ob_sval")]),
    ("unicode_length", [(ALL, "off:PyASCIIObject:length")]),
    ("unicode_state", [(ALL, "off:PyASCIIObject:state")]),
    ("unicode_ascii_data", [(ALL, "size:PyASCIIObject")]),
    ("unicode_compact_data", [(ALL, "size:PyCompactUnicodeObject")]),
    ("unicode_utf8", [(ALL, "off:PyCompactUnicodeObject:utf8")]),
    # Thread names: sys.modules['threading']._active[ident]._name
    ("interp_modules", [(v(0, 11), "off:PyInterpreterState:modules"),
                        (v(12), "off:PyInterpreterState:imports.modules")]),
    ("object_type", [(ALL, "off:PyObject:ob_type")]),
    ("type_basicsize", [(ALL, "off:PyTypeObject:tp_basicsize")]),
    ("type_flags", [(ALL, "off:PyTypeObject:tp_flags")]),
    ("type_dictoffset", [(ALL, "off:PyTypeObject:tp_dictoffset")]),
    ("heaptype_cached_keys", [(ALL, "off:PyHeapTypeObject:ht_cached_keys")]),
    ("module_dict", [(ALL, "off:PyModuleObject:md_dict")]),
    ("dict_keys", [(ALL, "off:PyDictObject:ma_keys")]),
    ("dict_values", [(ALL, "off:PyDictObject:ma_values")]),
    ("dict_layout", [(v(0, 10), "const:DictLayout::sized"), (v(11), "const:DictLayout::log2")]),
    ("dictkeys_size", [(v(0, 10), "off:PyDictKeysObject:dk_size"),
                       (v(11), "off:PyDictKeysObject:dk_log2_size")]),
    ("dictkeys_index_bytes", [(v(0, 10), "const:0"),
                              (v(11), "off:PyDictKeysObject:dk_log2_index_bytes")]),
    ("dictkeys_kind", [(v(0, 10), "const:0"), (v(11), "off:PyDictKeysObject:dk_kind")]),
    ("dictkeys_nentries", [(ALL, "off:PyDictKeysObject:dk_nentries")]),
    ("dictkeys_indices", [(ALL, "off:PyDictKeysObject:dk_indices")]),
    ("dict_entry_size", [(ALL, "size:PyDictKeyEntry")]),
    ("dict_unicode_entry_size", [(v(0, 10), "const:0"), (v(11), "size:PyDictUnicodeEntry")]),
    ("dictvalues_values", [(v(0, 10), "const:0"), (v(11), "off:PyDictValues:values")]),
    ("instance_dict", [(v(0, 10), "const:InstanceDict::dictoffset"),
                       (v(11, 11), "const:InstanceDict::managed_311"),
                       (v(12, 12), "const:InstanceDict::managed_312"),
                       (v(13), "const:InstanceDict::inline_values_313")]),
    ("long_size", [(v(0, 11), "off:PyLongObject:ob_base.ob_size"),
                   (v(12), "off:PyLongObject:long_value.lv_tag")]),
    ("long_digits", [(v(0, 11), "off:PyLongObject:ob_digit"),
                     (v(12), "off:PyLongObject:long_value.ob_digit")]),
    ("long_tagged", [(v(0, 11), "const:0"), (v(12), "const:1")]),
    # Objects the Twisted view reads (awaited-by chains of inlineCallbacks generators).
    ("code_consts", [(ALL, "off:PyCodeObject:co_consts")]),
    ("code_localsplusnames", [(v(0, 10), "off:PyCodeObject:co_varnames"),
                              (v(11), "off:PyCodeObject:co_localsplusnames")]),
    ("code_localspluskinds", [(v(0, 10), "const:0"), (v(11), "off:PyCodeObject:co_localspluskinds")]),
    ("code_cellvars", [(v(0, 10), "off:PyCodeObject:co_cellvars"), (v(11), "const:0")]),
    ("code_freevars", [(v(0, 10), "off:PyCodeObject:co_freevars"), (v(11), "const:0")]),
    ("code_nlocals", [(ALL, "off:PyCodeObject:co_nlocals")]),
    ("frame_localsplus", [(v(0, 10), "off:PyFrameObject:f_localsplus"),
                          (v(11), "off:_PyInterpreterFrame:localsplus")]),
    ("cell_ref", [(ALL, "off:PyCellObject:ob_ref")]),
    ("tuple_items", [(ALL, "off:PyTupleObject:ob_item")]),
    ("list_size", [(ALL, "off:PyListObject:ob_base.ob_size")]),
    ("list_items", [(ALL, "off:PyListObject:ob_item")]),
    ("func_code", [(ALL, "off:PyFunctionObject:func_code")]),
    ("func_closure", [(ALL, "off:PyFunctionObject:func_closure")]),
    ("gen_frame", [(v(0, 10), "off:PyGenObject:gi_frame"), (v(11), "off:PyGenObject:gi_iframe")]),
    ("gen_frame_embedded", [(v(0, 10), "const:0"), (v(11), "const:1")]),
    ("gen_frame_state", [(v(0, 10), "const:0"), (v(11), "off:PyGenObject:gi_frame_state")]),
    ("gen_state_created", [(v(0, 10), "const:0"), (v(11), "enum:FRAME_CREATED")]),
    # Read when a Python function returns (Deferred lifecycle log, from the function__return probe).
    ("frame_func", [(v(0, 10), "const:0"), (v(11, 11), "off:_PyInterpreterFrame:f_func"),
                    (v(12), "off:_PyInterpreterFrame:f_funcobj")]),
    ("frame_stacktop", [(v(0, 10), "const:0"), (v(11), "off:_PyInterpreterFrame:stacktop")]),
    ("tstate_exception", [(v(0, 11), "off:PyThreadState:curexc_type"),
                          (v(12), "off:PyThreadState:current_exception")]),
    ("cfunction_self", [(ALL, "off:PyCFunctionObject:m_self")]),
    ("cfunction_method", [(ALL, "off:PyCFunctionObject:m_ml")]),
    ("type_methods", [(ALL, "off:PyTypeObject:tp_methods")]),
    ("type_dict", [(ALL, "off:PyTypeObject:tp_dict")]),
    ("type_name", [(ALL, "off:PyTypeObject:tp_name")]),
    ("type_dealloc", [(ALL, "off:PyTypeObject:tp_dealloc")]),
    ("method_func", [(ALL, "off:PyMethodObject:im_func")]),
    ("method_self", [(ALL, "off:PyMethodObject:im_self")]),
    ("methoddef_size", [(ALL, "size:PyMethodDef")]),
    ("methoddef_function", [(ALL, "off:PyMethodDef:ml_meth")]),
    ("methoddef_name", [(ALL, "off:PyMethodDef:ml_name")]),
    # functools.partial (the asyncio awaited-by reader follows partial(_release_waiter, waiter)).
    ("partial_func", [(ALL, "off:partialobject:fn")]),
    ("partial_args", [(ALL, "off:partialobject:args")]),
    # _Py_DebugOffsets (3.13+): where _PyRuntime's own description of these offsets sits, so the
    # tracer can check this file against the running interpreter.
    ("debug_runtime_interpreters_head",
     [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.runtime_state.interpreters_head")]),
    ("debug_interp_threads_head",
     [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.interpreter_state.threads_head")]),
    ("debug_tstate_next", [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.thread_state.next")]),
    ("debug_tstate_current_frame",
     [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.thread_state.current_frame")]),
    ("debug_tstate_native_thread_id",
     [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.thread_state.native_thread_id")]),
    ("debug_frame_previous",
     [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.interpreter_frame.previous")]),
    ("debug_frame_executable",
     [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.interpreter_frame.executable")]),
    ("debug_frame_instr_ptr",
     [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.interpreter_frame.instr_ptr")]),
    ("debug_frame_owner",
     [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.interpreter_frame.owner")]),
    ("debug_code_filename",
     [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.code_object.filename")]),
    ("debug_code_name", [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.code_object.name")]),
    ("debug_code_adaptive",
     [(v(0, 12), "const:0"), (v(13), "off:_PyRuntimeState:debug_offsets.code_object.co_code_adaptive")]),
]


def expression(source):
    kind, _, rest = source.partition(":")
    if kind == "off":
        type_name, member = rest.split(":", 1)
        return f"print (long)&(({type_name}*)0)->{member}"
    if kind == "size":
        return f"print (long)sizeof({rest})"
    if kind == "enum":
        return f"print (long){rest}"
    raise ValueError(source)


def pick(ranges, minor):
    for (lo, hi), source in ranges:
        if lo <= minor <= hi:
            return source
    raise SystemExit(f"no source for minor version {minor}")


def gdb_values(path, expressions):
    """Evaluate gdb expressions against PATH's DWARF; one integer per expression."""
    cmd = ["gdb", "-nx", "-batch"]
    for e in expressions:
        cmd += ["-ex", e]
    cmd.append(path)
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    values = re.findall(r"^\$\d+ = (-?\d+)$", out.stdout, re.M)
    if len(values) != len(expressions):
        raise SystemExit(f"gdb could not evaluate every offset in {path}:\n{out.stdout}{out.stderr}")
    return [int(x) for x in values]


def version_of(path):
    m = re.search(r"python3\.(\d+)", os.path.basename(path))
    if not m:
        raise SystemExit(f"cannot tell the CPython version from the file name {path}")
    return 3, int(m.group(1))


def generate(path):
    major, minor = version_of(path)
    sources = [(key, pick(ranges, minor)) for key, ranges in FIELDS]
    computed = [(k, s) for k, s in sources if not s.startswith("const:")]
    values = dict(zip((k for k, _ in computed), gdb_values(path, [expression(s) for _, s in computed])))
    lines = [
        f"# CPython {major}.{minor} on x86_64, default build (GIL, no Py_TRACE_REFS, not debug).",
        f"# Generated by tools/gen_cpython_offsets.py from the DWARF of {os.path.basename(path)}",
        "# (a pyenv build); patch releases share the layout. Do not edit: regenerate.",
        f"version = {major}.{minor}",
    ]
    for key, source in sources:
        value = source[len("const:"):] if source.startswith("const:") else str(values[key])
        if "::" in value:
            value = value.split("::", 1)[1]
        lines.append(f"{key} = {value}")
    return minor, "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?")
    ap.add_argument("-o", "--output")
    ap.add_argument("--all-pyenv", action="store_true")
    ap.add_argument("--pyenv-root", default=os.path.expanduser("~/.pyenv/versions"))
    ap.add_argument("--probes-dir", default=os.path.join(os.path.dirname(__file__), "..", "probes", "cpython"))
    args = ap.parse_args()
    if args.all_pyenv:
        found = {}
        for lib in sorted(glob.glob(os.path.join(args.pyenv_root, "3.*", "lib", "libpython3.*.so.1.0"))):
            minor = int(re.search(r"python3\.(\d+)", os.path.basename(lib)).group(1))
            if 8 <= minor <= 13:
                found[minor] = lib
        for minor, lib in sorted(found.items()):
            _, text = generate(lib)
            out = os.path.join(args.probes_dir, f"3.{minor}.conf")
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"wrote {out} from {lib}")
        return
    if not args.file:
        ap.error("give a FILE or --all-pyenv")
    _, text = generate(args.file)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
