#include "runtimes/twisted/twisted_inspector.h"

#include <fmt/format.h>

#include <string_view>
#include <vector>

namespace pyat {
namespace {

constexpr uint8_t fast_cell = 0x40;  // CO_FAST_CELL (3.11+ co_localspluskinds)
constexpr uint8_t fast_free = 0x80;  // CO_FAST_FREE

struct LocalSlot {
    uint16_t slot = 0;
    bool is_cell = false;
};

class CodeReader {
public:
    CodeReader(const PythonObjects& objects, const CpythonLayout& layout) : o_(objects), l_(layout) {}

    std::string name(uint64_t code) const { return o_.read_unicode(o_.read_pointer(code + l_.bpf.code_name)); }

    uint64_t function_code(uint64_t function) const {
        return function ? o_.read_pointer(function + l_.func_code) : 0;
    }

    // A code object among `code`'s constants (a nested function) named `wanted`.
    uint64_t nested_code(uint64_t code, std::string_view wanted) const {
        uint64_t code_type = o_.read_pointer(code + l_.object_type);
        for (uint64_t c : o_.tuple_items(o_.read_pointer(code + l_.code_consts)))
            if (c && o_.read_pointer(c + l_.object_type) == code_type && name(c) == wanted) return c;
        return 0;
    }

    // The frame slot of local (or cell) `wanted`.
    std::optional<LocalSlot> local_slot(uint64_t code, std::string_view wanted) const {
        auto names = o_.tuple_items(o_.read_pointer(code + l_.code_localsplusnames));
        if (l_.code_localspluskinds) {  // 3.11+: one array of locals, cells and free variables
            auto kinds = kinds_of(code, names.size());
            for (size_t i = 0; i < names.size() && i < kinds.size(); i++)
                if (o_.read_unicode(names[i]) == wanted)
                    return LocalSlot{uint16_t(i), (kinds[i] & fast_cell) != 0};
            return std::nullopt;
        }
        // Before 3.11 a captured argument's fast slot is left NULL: look among the cells first.
        auto nlocals = o_.memory().read_value<int32_t>(code + l_.code_nlocals);
        if (!nlocals || *nlocals < 0) return std::nullopt;
        auto cells = o_.tuple_items(o_.read_pointer(code + l_.code_cellvars));
        for (size_t i = 0; i < cells.size(); i++)
            if (o_.read_unicode(cells[i]) == wanted) return LocalSlot{uint16_t(*nlocals + i), true};
        for (size_t i = 0; i < names.size(); i++)
            if (o_.read_unicode(names[i]) == wanted) return LocalSlot{uint16_t(i), false};
        return std::nullopt;
    }

    // Position of free variable `wanted` in the closure tuple of a function running `code`.
    std::optional<uint16_t> free_index(uint64_t code, std::string_view wanted) const {
        std::vector<uint64_t> free;
        if (l_.code_localspluskinds) {
            auto names = o_.tuple_items(o_.read_pointer(code + l_.code_localsplusnames));
            auto kinds = kinds_of(code, names.size());
            for (size_t i = 0; i < names.size() && i < kinds.size(); i++)
                if (kinds[i] & fast_free) free.push_back(names[i]);
        } else {
            free = o_.tuple_items(o_.read_pointer(code + l_.code_freevars));
        }
        for (size_t i = 0; i < free.size(); i++)
            if (o_.read_unicode(free[i]) == wanted) return uint16_t(i);
        return std::nullopt;
    }

private:
    std::vector<uint8_t> kinds_of(uint64_t code, size_t count) const {
        uint64_t bytes = o_.read_pointer(code + l_.code_localspluskinds);
        auto raw = bytes ? o_.memory().read_bytes(bytes + l_.bytes_data, count) : std::nullopt;
        return raw ? *raw : std::vector<uint8_t>{};
    }

    const PythonObjects& o_;
    const CpythonLayout& l_;
};

// The lifecycle log's view of the Deferred class: its methods' code objects and the frame slots
// of the locals logged. Empty (with `why`) when something is missing.
std::optional<deferred_log_layout> resolve_lifecycle(const PythonObjects& objects, const CpythonLayout& layout,
                                                     const CodeReader& code, uint64_t defer,
                                                     const TwistedDescription& d, std::string& why) {
    if (!*d.created || !*d.runner) {
        why = fmt::format("{} describes no lifecycle methods", d.source);
        return std::nullopt;
    }
    if (!layout.frame_stacktop) {
        why = fmt::format("the lifecycle log needs CPython 3.11-3.13 frames (this is {})", layout.version());
        return std::nullopt;
    }
    uint64_t deferred_class = objects.module_attribute(defer, d.deferred_class);
    uint64_t class_dict = deferred_class ? objects.read_pointer(deferred_class + layout.type_dict) : 0;
    auto method = [&](const char* name) { return code.function_code(objects.dict_get(class_dict, name)); };
    auto slot = [&](uint64_t c, const char* name) -> std::optional<uint16_t> {
        if (!*name) return uint16_t(DEFERRED_NO_LOCAL);
        auto s = code.local_slot(c, name);
        if (!s || s->is_cell) return std::nullopt;
        return s->slot;
    };
    struct Method {
        deferred_event event;
        const char* name;
        const char* first;
        const char* second;
    };
    const Method methods[] = {
        {DEFERRED_CREATED, d.created, "", ""},
        {DEFERRED_CALLBACKS_ADDED, d.callbacks_added, d.callbacks_added_callback, d.callbacks_added_errback},
        {DEFERRED_FIRED, d.fired, d.fired_result, ""},
        {DEFERRED_FAILED, d.failed, d.failed_result, ""},
        {DEFERRED_CHAINED, d.chained, d.chained_other, ""},
        {DEFERRED_CHAINED_BY_RESULT, d.chained_by_result, "", ""},
    };
    deferred_log_layout out{};
    for (const Method& m : methods) {
        uint64_t c = method(m.name);
        auto first = c ? slot(c, m.first) : std::nullopt;
        auto second = c ? slot(c, m.second) : std::nullopt;
        if (!c || !first || !second) {
            why = c ? fmt::format("{}.{} has no local {} or {}", d.deferred_class, m.name, m.first, m.second)
                    : fmt::format("{}.{} not found", d.deferred_class, m.name);
            return std::nullopt;
        }
        out.method_code[m.event] = c;
        out.first_local[m.event] = *first;
        out.second_local[m.event] = *second;
    }
    uint64_t runner = method(d.runner);
    auto runner_deferred = runner ? slot(runner, d.runner_deferred) : std::nullopt;
    auto runner_callable = runner ? slot(runner, d.runner_callable) : std::nullopt;
    uint64_t failure = objects.module_attribute(defer, d.failure_class);
    if (!runner_deferred || !runner_callable || !failure) {
        why = fmt::format("{}.{} (locals {}, {}) or {} not found", d.deferred_class, d.runner, d.runner_deferred,
                          d.runner_callable, d.failure_class);
        return std::nullopt;
    }
    out.runner_code = runner;
    out.runner_deferred = *runner_deferred;
    out.runner_callable = *runner_callable;
    out.failure_class = failure;
    out.frame_localsplus = layout.frame_localsplus;
    out.frame_func = layout.frame_func;
    out.frame_stacktop = layout.frame_stacktop;
    out.tstate_exception = layout.tstate_exception;
    out.method_func = layout.method_func;
    out.object_type = layout.object_type;
    out.func_code = layout.func_code;
    // PyFunction_Type, from a function we know; PyMethod_Type is left to the caller (no bound
    // method need exist yet: it is found by its exported symbol).
    out.function_type = objects.read_pointer(objects.dict_get(class_dict, d.created) + layout.object_type);
    return out;
}

TwistedSearch resolve(const PythonObjects& objects, const CpythonLayout& layout, uint64_t defer,
                      const TwistedDescription& d, TwistedTarget& out, std::string& why) {
    CodeReader code(objects, layout);
    uint64_t inline_callbacks = code.function_code(objects.module_attribute(defer, d.inline_callbacks));
    if (!inline_callbacks || code.name(inline_callbacks) != d.inline_callbacks) {
        // Also seen while the module is still being imported: look again later.
        why = fmt::format("{}.{} not found", d.defer_module, d.inline_callbacks);
        return TwistedSearch::not_ready;
    }
    // The lifecycle log and the call tracer need only code objects: ready even when the chains
    // below are not.
    out.description = &d;
    out.lifecycle = resolve_lifecycle(objects, layout, code, defer, d, out.lifecycle_missing);
    out.trace.reset();
    if (*d.wrapper && layout.code_localspluskinds) {
        uint64_t wrapper =
            code.nested_code(code.function_code(objects.module_attribute(defer, d.wrapper_nested_in)), d.wrapper);
        auto slot = wrapper ? code.local_slot(wrapper, d.wrapper_function) : std::nullopt;
        auto gen = wrapper && *d.wrapper_generator ? code.local_slot(wrapper, d.wrapper_generator) : std::nullopt;
        if (slot && gen && layout.gen_frame_embedded) {
            trace_twisted t{};
            t.wrapper_code = wrapper;
            t.inline_callbacks_code = inline_callbacks;
            t.wrapper_function_slot = slot->slot;  // a free variable: its slot holds the cell
            t.frame_localsplus = layout.frame_localsplus;
            t.cell_ref = layout.cell_ref;
            t.func_code = layout.func_code;
            t.wrapper_generator_slot = gen->slot;
            t.gen_frame = layout.gen_frame;
            out.trace = t;
        }
    }
    auto status = code.local_slot(inline_callbacks, d.inline_callbacks_status);
    if (!status) {
        why = fmt::format("{} has no local {}", d.inline_callbacks, d.inline_callbacks_status);
        return TwistedSearch::unsupported;
    }
    uint64_t awaiter = *d.awaiter_nested_in
                           ? code.nested_code(code.function_code(objects.module_attribute(defer, d.awaiter_nested_in)),
                                              d.awaiter)
                           : code.function_code(objects.module_attribute(defer, d.awaiter));
    if (!awaiter) {
        why = fmt::format("awaiter {} not found", d.awaiter);
        return TwistedSearch::unsupported;
    }
    bool in_closure = std::string_view(d.awaiter_holds) == "closure";
    std::optional<uint16_t> gen, status_at;
    if (in_closure) {
        gen = code.free_index(awaiter, d.awaiter_gen);
        status_at = code.free_index(awaiter, d.awaiter_status);
    } else {  // callback arguments after the result: (result, *args)
        auto g = code.local_slot(awaiter, d.awaiter_gen), s = code.local_slot(awaiter, d.awaiter_status);
        if (g && g->slot > 0) gen = uint16_t(g->slot - 1);
        if (s && s->slot > 0) status_at = uint16_t(s->slot - 1);
    }
    if (!gen || !status_at) {
        why = fmt::format("{} does not hold {} and {} in its {}", d.awaiter, d.awaiter_gen, d.awaiter_status,
                          d.awaiter_holds);
        return TwistedSearch::unsupported;
    }
    if (layout.instance_dict == InstanceDict::dictoffset) {
        why = fmt::format("awaited-by chains need CPython 3.11+ (this is {})", layout.version());
        return TwistedSearch::unsupported;
    }
    auto status_deferred = objects.attribute_slot(objects.module_attribute(defer, d.status_class), d.status_deferred);
    auto deferred_callbacks =
        objects.attribute_slot(objects.module_attribute(defer, d.deferred_class), d.deferred_callbacks);
    if (!status_deferred || !deferred_callbacks) {
        why = fmt::format("{}.{} / {}.{} not laid out yet", d.status_class, d.status_deferred, d.deferred_class,
                          d.deferred_callbacks);
        return TwistedSearch::not_ready;
    }

    twisted_layout& b = out.bpf;
    b = {};
    b.inline_callbacks_code = inline_callbacks;
    b.awaiter_code = awaiter;
    b.status_deferred = *status_deferred;
    b.deferred_callbacks = *deferred_callbacks;
    b.status_local = status->slot;
    b.status_local_is_cell = status->is_cell;
    b.awaiter_in_closure = in_closure;
    b.awaiter_gen = *gen;
    b.awaiter_status = *status_at;
    b.frame_localsplus = layout.frame_localsplus;
    b.cell_ref = layout.cell_ref;
    b.tuple_items = layout.tuple_items;
    b.list_size = layout.list_size;
    b.list_items = layout.list_items;
    b.func_code = layout.func_code;
    b.func_closure = layout.func_closure;
    b.gen_frame = layout.gen_frame;
    b.gen_frame_embedded = layout.gen_frame_embedded;
    b.gen_frame_state = layout.gen_frame_state;
    b.gen_state_created = layout.gen_state_created;
    b.cfunction_self = layout.cfunction_self;
    b.cfunction_method = layout.cfunction_method;
    return TwistedSearch::found;
}

}  // namespace

TwistedSearch find_twisted(const PythonObjects& objects, const CpythonLayout& layout, uint64_t runtime_address,
                           TwistedTarget& out, std::string& why) {
    const auto& descriptions = known_twisted_descriptions();
    if (descriptions.empty()) return TwistedSearch::not_imported;
    uint64_t modules = objects.sys_modules(runtime_address);
    uint64_t defer = objects.dict_get(modules, descriptions.front().defer_module);
    if (!defer) return TwistedSearch::not_imported;
    TwistedSearch result = TwistedSearch::unsupported;
    std::string reasons;
    for (const auto& d : descriptions) {
        std::string reason;
        TwistedSearch r = resolve(objects, layout, defer, d, out, reason);
        if (r == TwistedSearch::found) return r;
        if (r == TwistedSearch::not_ready) result = r;
        reasons += fmt::format("{}{}: {}", reasons.empty() ? "" : "; ", d.source, reason);
    }
    why = reasons;
    return result;
}

}  // namespace pyat
