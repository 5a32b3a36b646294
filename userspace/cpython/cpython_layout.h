// Per-version knowledge of CPython's memory layout, loaded from probes/cpython/*.conf.
//
// 3.13+ describe themselves in _Py_DebugOffsets at the start of _PyRuntime; we still carry the
// offsets as data (the debug struct says nothing of CFrame, tag bits, the owner enum or the line
// table) and use the struct to check them (layout_check.h). CPython 3.15 fits the same way: a
// 3.15.conf with its debug_* positions; its owner enum keeps every non-Python frame >= 3, and its
// default frame pointers could later let the walker add native frames.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cpython/line_table.h"
#include "abi/cpython.h"

namespace pyat {

// How a dict's keys object gives its size and index width.
enum class DictLayout : uint8_t {
    sized = 1,  // 3.8-3.10: dk_size (Py_ssize_t); index width follows from the size
    log2 = 2,   // 3.11+: dk_log2_size, dk_log2_index_bytes, dk_kind (u8 each)
};

// Where a plain Python object keeps its attributes.
enum class InstanceDict : uint8_t {
    dictoffset = 1,         // 3.8-3.10: a dict pointer at obj + type->tp_dictoffset
    managed_311 = 2,        // 3.11: dict pointer at obj-24, else values at obj-32 (keys: ht_cached_keys)
    managed_312 = 3,        // 3.12: one tagged word at obj-24: dict, or values when bit 0 is set
    inline_values_313 = 4,  // 3.13+: dict pointer at obj-24, else values inline at obj+tp_basicsize
};

struct CpythonLayout {
    int major = 0;
    int minor = 0;
    const char* source = "";  // the probes/ file it came from

    py_layout bpf{};  // what the kernel frame walker needs

    uint16_t tstate_interp = 0;  // PyThreadState.interp: checks the thread list at attach time

    // Userspace symbolization of code objects.
    uint16_t code_firstlineno = 0;
    uint16_t code_qualname = 0;  // 0: no co_qualname (before 3.11)
    uint16_t code_linetable = 0;
    LineTableFormat line_table = LineTableFormat::location_table;
    uint16_t bytes_size = 0;
    uint16_t bytes_data = 0;
    uint16_t unicode_length = 0;
    uint16_t unicode_state = 0;
    uint16_t unicode_ascii_data = 0;    // characters of a compact ASCII string
    uint16_t unicode_compact_data = 0;  // characters of a compact non-ASCII string
    uint16_t unicode_utf8 = 0;          // its cached UTF-8 copy (a char*, NULL until asked for)

    // Objects, for thread names (sys.modules['threading']._active[ident]._name).
    uint16_t interp_modules = 0;  // PyInterpreterState -> sys.modules dict
    uint16_t object_type = 0;
    uint16_t type_basicsize = 0;
    uint16_t type_flags = 0;
    uint16_t type_dictoffset = 0;
    uint16_t heaptype_cached_keys = 0;
    uint16_t module_dict = 0;
    uint16_t dict_keys = 0;
    uint16_t dict_values = 0;
    DictLayout dict_layout = DictLayout::log2;
    uint16_t dictkeys_size = 0;         // dk_size or dk_log2_size
    uint16_t dictkeys_index_bytes = 0;  // dk_log2_index_bytes (log2 layout)
    uint16_t dictkeys_kind = 0;         // dk_kind (log2 layout): 0 general, else unicode entries
    uint16_t dictkeys_nentries = 0;
    uint16_t dictkeys_indices = 0;
    uint16_t dict_entry_size = 0;          // {hash, key, value}
    uint16_t dict_unicode_entry_size = 0;  // {key, value}; 0 before 3.11
    uint16_t dictvalues_values = 0;
    InstanceDict instance_dict = InstanceDict::dictoffset;
    uint16_t long_size = 0;    // ob_size (signed digit count) or lv_tag (3.12+)
    uint16_t long_digits = 0;
    uint8_t long_tagged = 0;   // 1: lv_tag = ndigits << 3 | sign bits

    // Objects the Twisted view reads (inlineCallbacks awaited-by chains, Context.run hooks).
    uint16_t code_consts = 0;
    uint16_t code_localsplusnames = 0;  // co_localsplusnames (3.11+) or co_varnames
    uint16_t code_localspluskinds = 0;  // 3.11+: one kind byte per name (0x40 cell, 0x80 free)
    uint16_t code_cellvars = 0;         // before 3.11: cells follow the co_nlocals fast locals
    uint16_t code_freevars = 0;         // before 3.11: then the free variables
    uint16_t code_nlocals = 0;
    uint16_t frame_localsplus = 0;   // a frame's fast locals and cells
    uint16_t cell_ref = 0;           // PyCellObject.ob_ref
    uint16_t tuple_items = 0;
    uint16_t list_size = 0;
    uint16_t list_items = 0;         // PyListObject.ob_item (a pointer to the items)
    uint16_t func_code = 0;
    uint16_t func_closure = 0;
    uint16_t gen_frame = 0;          // gi_frame (pointer, before 3.11) or gi_iframe (embedded)
    uint8_t gen_frame_embedded = 0;
    uint16_t gen_frame_state = 0;    // gi_frame_state (3.11+; < 0: suspended); 0: gi_frame is NULL once done
    int8_t gen_state_created = 0;    // gi_frame_state of a generator not started yet (3.11+: FRAME_CREATED)
    // Read when a function returns (Deferred lifecycle log, function__return probe).
    uint16_t frame_func = 0;         // the running function object (3.11+)
    uint16_t frame_stacktop = 0;     // 3.11-3.13 int stacktop; 0: no such field (before 3.11, 3.14)
    uint16_t tstate_exception = 0;   // curexc_type (3.11) / current_exception: set while unwinding
    uint16_t cfunction_self = 0;     // builtin method's __self__
    uint16_t cfunction_method = 0;   // its PyMethodDef*
    uint16_t type_methods = 0;       // tp_methods
    uint16_t type_dict = 0;          // tp_dict (a class's own attributes)
    uint16_t type_name = 0;          // tp_name (a C string)
    uint16_t type_dealloc = 0;       // tp_dealloc (the type's destructor, a C function)
    uint16_t method_func = 0;        // a bound method's function (PyMethodObject.im_func)
    uint16_t method_self = 0;        // its instance (im_self)
    uint16_t methoddef_size = 0;
    uint16_t methoddef_function = 0; // ml_meth
    uint16_t methoddef_name = 0;     // ml_name (a C string)
    uint16_t partial_func = 0;       // functools.partial's function
    uint16_t partial_args = 0;       // and its bound positional arguments (a tuple)
    // Offsets within _PyRuntime of _Py_DebugOffsets fields (3.13+; 0 = the version has none),
    // checked at attach time against the values above.
    uint16_t debug_runtime_interpreters_head = 0;
    uint16_t debug_interp_threads_head = 0;
    uint16_t debug_tstate_next = 0;
    uint16_t debug_tstate_current_frame = 0;
    uint16_t debug_tstate_native_thread_id = 0;
    uint16_t debug_frame_previous = 0;
    uint16_t debug_frame_executable = 0;
    uint16_t debug_frame_instr_ptr = 0;
    uint16_t debug_frame_owner = 0;
    uint16_t debug_code_filename = 0;
    uint16_t debug_code_name = 0;
    uint16_t debug_code_adaptive = 0;

    std::string version() const;
};

// What the kernel needs to name code objects (struct code_layout), from the layout's own offsets;
// the caller sets code_type (the process's PyCode_Type) where known.
code_layout kernel_code_layout(const CpythonLayout& layout);

// Every layout under probes/cpython, oldest first.
const std::vector<CpythonLayout>& known_cpython_layouts();

// The layout for major.minor, if that version is supported.
const CpythonLayout* find_cpython_layout(int major, int minor);

// "3.11" or "3.11, 3.12": for error messages.
std::string supported_cpython_versions();

}  // namespace pyat
