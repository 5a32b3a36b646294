#include "trace/call_trace.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace pyat {

namespace {
// A (filename, funcname) pointer pair as one key; code objects (return-only mode) are their own key.
uint64_t name_key(uint64_t filename, uint64_t funcname) {
    return (filename * 0x9E3779B97F4A7C15ULL) ^ funcname;
}
constexpr uint64_t gc_key = ~0ULL;

std::string unknown_function(uint64_t funcname) {
    char buf[48];
    snprintf(buf, sizeof(buf), "[function at 0x%llx]", static_cast<unsigned long long>(funcname));
    return buf;
}
}  // namespace

CallTrace::CallTrace(ProcessProfile& profile, const CallTraceConfig& config, CodeResolver* resolver,
                     ProcessMemory memory)
    : profile_(profile), config_(config), resolver_(resolver), memory_(memory) {}

bool CallTrace::recorded(uint32_t function) {
    if (config_.filters.empty()) return true;
    auto known = recorded_.find(function);
    if (known != recorded_.end()) return known->second;
    const Function& f = profile_.functions[function];
    bool match = f.file.empty();  // synthetic frames ([gc]) stay
    for (const auto& glob : config_.filters)
        match = match || fnmatch(glob.c_str(), f.file.c_str(), 0) == 0 || fnmatch(glob.c_str(), f.name.c_str(), 0) == 0;
    return recorded_[function] = match;
}

uint32_t CallTrace::function_for(uint64_t filename, uint64_t funcname, int32_t lineno) {
    uint64_t key = name_key(filename, funcname);
    auto known = functions_.find(key);
    if (known != functions_.end()) return known->second;
    auto named = names_.find(key);
    std::string file = named != names_.end() ? named->second.first : "";
    std::string name = named != names_.end() ? named->second.second : "";
    if (name.empty()) name = unknown_function(funcname);
    uint32_t index = profile_.intern({name, file.empty() ? "???" : file, uint32_t(std::max(lineno, 0))});
    functions_.emplace(key, index);
    return index;
}

uint32_t CallTrace::child(uint32_t parent, uint32_t function) {
    uint64_t key = (uint64_t(parent) << 32) | function;
    auto [it, added] = children_.try_emplace(key, uint32_t(nodes_.size()));
    if (added) nodes_.push_back(Node{parent, function, 0, 0});
    return it->second;
}

void CallTrace::enter(Shadow& s, uint64_t key, uint32_t function, uint64_t now) {
    bool keep = recorded(function);
    uint32_t parent = s.empty() ? 0 : s.back().node;
    s.push_back(Open{key, function, keep ? child(parent, function) : parent, keep, now, 0});
}

// The call at s[index] returns now (with anything still open above it).
void CallTrace::leave(Shadow& s, size_t index, uint64_t now) {
    while (s.size() > index) {
        const Open& call = s.back();
        uint64_t total = now > call.start_ns ? now - call.start_ns : 0;
        uint64_t self = total > call.child_ns ? total - call.child_ns : 0;
        // Not recorded: its own time is its nearest recorded caller's (its node).
        nodes_[call.node].self_ns += self;
        if (call.recorded) {
            nodes_[call.node].calls++;
            calls_++;
        }
        s.pop_back();
        if (!s.empty()) s.back().child_ns += total;
    }
}

void CallTrace::flush_tree() {
    for (uint32_t i = 1; i < nodes_.size(); i++) {
        Node& node = nodes_[i];
        if (node.self_ns) {
            Stack stack;
            for (uint32_t at = i; at != 0; at = nodes_[at].parent)
                stack.push_back({nodes_[at].function, profile_.functions[nodes_[at].function].first_line});
            std::reverse(stack.begin(), stack.end());
            profile_.add(stack, node.self_ns);
        }
        if (node.calls && node.parent) {
            uint32_t caller = nodes_[node.parent].function;
            profile_.call_counts[{caller, profile_.functions[caller].first_line, node.function}] += node.calls;
        }
        node.self_ns = 0;
        node.calls = 0;
    }
}

uint64_t CallTrace::shadow_key(uint32_t tid) const {
    auto running = running_greenlet_.find(tid);
    return running != running_greenlet_.end() ? running->second : tid;  // PyGreenlet* are far above any TID
}

void CallTrace::add(const void* data, size_t size) {
    const auto* e = static_cast<const call_event*>(data);
    events_++;
    switch (e->kind) {
        case TRACE_NAME: {
            if (size < sizeof(trace_name)) return;
            const auto* n = static_cast<const trace_name*>(data);
            std::string file(n->file, strnlen(n->file, sizeof(n->file)));
            std::string func(n->func, strnlen(n->func, sizeof(n->func)));
            // The kernel cannot fault a page in: text in a page the program never touched (a
            // binary's read-only data, which no other function's names can ever replace) is read
            // here instead.
            auto text = [&](uint64_t address, size_t max) {
                std::string out;
                for (size_t at = 0; at < max; at += 16) {
                    auto chunk = memory_.read_bytes(address + at, 16);
                    if (!chunk) break;
                    auto end = std::find(chunk->begin(), chunk->end(), uint8_t(0));
                    out.append(chunk->begin(), end);
                    if (end != chunk->end()) break;
                }
                return out;
            };
            if (file.empty() && e->filename) file = text(e->filename, PYAT_TRACE_FILE_LEN);
            if (func.empty() && e->funcname) func = text(e->funcname, PYAT_TRACE_NAME_LEN);
            uint64_t key = name_key(e->filename, e->funcname);
            names_[key] = {file, func};
            functions_.erase(key);  // named again: the addresses may now name another function
            return;
        }
        case TRACE_ENTRY: {
            Shadow& s = threads_[shadow_key(e->tid)];
            enter(s, name_key(e->filename, e->funcname), function_for(e->filename, e->funcname, e->lineno), e->ktime_ns);
            return;
        }
        case TRACE_RETURN: {
            Shadow& s = threads_[shadow_key(e->tid)];
            uint64_t key = name_key(e->filename, e->funcname);
            for (size_t i = s.size(); i-- > 0;)
                if (s[i].key == key) {
                    leave(s, i, e->ktime_ns);
                    return;
                }
            unmatched_returns_++;  // entered before tracing began
            return;
        }
        case TRACE_GC_START: {
            if (size >= sizeof(trace_return)) {  // return-only mode: with the frames it interrupts
                add_gc_start(*static_cast<const trace_return*>(data));
                return;
            }
            if (gc_function_ == UINT32_MAX) gc_function_ = profile_.intern({"[gc]", "", 0});
            enter(threads_[shadow_key(e->tid)], gc_key, gc_function_, e->ktime_ns);
            return;
        }
        case TRACE_GC_DONE: {
            if (add_gc_done(e->tid, e->ktime_ns)) return;
            Shadow& s = threads_[shadow_key(e->tid)];
            for (size_t i = s.size(); i-- > 0;)
                if (s[i].key == gc_key) {
                    leave(s, i, e->ktime_ns);
                    return;
                }
            return;
        }
        case PYAT_EVENT_CODE_NAME:
            if (resolver_ && size >= offsetof(code_name_event, table))
                resolver_->learn(*static_cast<const code_name_event*>(data), size);
            return;
        case TRACE_SWITCH: {
            // The calls open so far on a thread seen switching for the first time are its origin's.
            uint64_t origin = e->filename, target = e->funcname;
            if (!running_greenlet_.count(e->tid) && origin) {
                auto so_far = threads_.find(e->tid);
                if (so_far != threads_.end()) {
                    Shadow calls = std::move(so_far->second);
                    threads_.erase(so_far);
                    threads_[origin] = std::move(calls);
                }
            }
            running_greenlet_[e->tid] = target;
            return;
        }
        case TRACE_RETURN_ONLY:
            if (size >= sizeof(trace_return)) add_return_only(*static_cast<const trace_return*>(data));
            return;
        default:
            return;
    }
}

// CPython 3.11: the return of frames[0], called from frames[1]. Counted exactly; its time is the
// kernel's estimate, less what its callees took.
// The frames the kernel sent (innermost first) as a stack, root first. The kernel sends at most
// PYAT_TRACE_FRAMES: the frames above come from what earlier events said of the outermost one's
// callers (each frame's caller is remembered while the frame lives), else "[more frames]".
Stack CallTrace::stack_from(const trace_return& r) {
    size_t n = std::min<size_t>(r.nframes, PYAT_TRACE_FRAMES);
    std::vector<StackFrame> frames(n);  // innermost first
    for (size_t i = 0; i < n; i++) {
        ResolvedFrame f = resolver_->resolve(r.frames[i]);
        frames[i] = {profile_.intern({*f.name, *f.file, f.first_line}), f.first_line};
    }
    for (size_t i = 0; i + 1 < n; i++) callers_[r.frame_addresses[i]] = {r.frame_addresses[i + 1], frames[i]};
    Stack stack;
    if (n) {
        uint64_t outermost = r.frame_addresses[n - 1];
        if (!r.truncated) {
            callers_[outermost] = {0, frames[n - 1]};
        } else {
            // Follow the remembered callers up to the root, if they are all known.
            Stack above;
            uint64_t at = outermost;
            bool rooted = false;
            for (size_t hops = 0; hops < 1024; hops++) {
                auto link = callers_.find(at);
                if (link == callers_.end()) break;
                if (at != outermost) above.push_back(link->second.frame);
                if (!link->second.caller) {
                    rooted = true;
                    break;
                }
                at = link->second.caller;
            }
            if (!rooted) above.push_back({profile_.intern({"[more frames]", "", 0}), 0});
            stack.assign(above.rbegin(), above.rend());
            if (auto known = callers_.find(outermost); known != callers_.end()) known->second.frame = frames[n - 1];
        }
    }
    for (size_t i = n; i-- > 0;) stack.push_back(frames[i]);
    if (callers_.size() > max_remembered_frames) callers_.clear();
    return stack;
}

// A stack as shown: without Twisted's machinery (never its last frame) and without unrecorded
// frames (what a filtered-out call took goes to its nearest recorded caller).
Stack CallTrace::shown(const Stack& stack) {
    Stack out;
    for (size_t i = 0; i < stack.size(); i++) {
        const StackFrame& f = stack[i];
        bool machinery = !hidden_file_.empty() && profile_.functions[f.function].file.ends_with(hidden_file_);
        if (recorded(f.function) && (i + 1 == stack.size() || !machinery)) out.push_back(f);
    }
    return out;
}

// The nearest recorded frame below stack[below] calls callee once more.
void CallTrace::count_call(const Stack& stack, size_t below, uint32_t callee) {
    for (size_t i = below; i-- > 0;)
        if (recorded(stack[i].function)) {
            profile_.call_counts[{stack[i].function, stack[i].line, callee}]++;
            return;
        }
}

// CPython 3.11: the return of frames[0], called from frames[1]. Counted exactly; its time is the
// kernel's estimate, less what its callees took.
void CallTrace::add_return_only(const trace_return& r) {
    if (!resolver_ || r.nframes == 0) return;
    Stack stack = stack_from(r);
    uint64_t children = 0;
    if (auto it = child_ns_.find(r.frame); it != child_ns_.end()) {
        children = it->second;
        child_ns_.erase(it);
    }
    uint64_t self = r.estimated_ns > children ? r.estimated_ns - children : 0;
    if (r.caller_frame) child_ns_[r.caller_frame] += r.estimated_ns;
    // The call, from its nearest recorded caller as the interpreter ran it. Only a call that ends
    // counts: a yield suspends a generator (it is resumed, not called), and an @inlineCallbacks
    // generator's steps are counted at the wrapper that started it.
    const StackFrame callee = stack.back();
    Stack logical = logical_stack(r, stack);
    Stack own = shown(logical);
    // From its caller as shown (the nearest frame neither filtered out nor Twisted's machinery),
    // so that every call counted is on an edge the outputs hold.
    if (!r.is_yield && !r.counted_elsewhere && recorded(callee.function)) {
        if (r.nframes >= 2 && own.size() >= 2) count_call(own, own.size() - 1, callee.function);
        calls_++;
    }
    // Twisted: the generator this @inlineCallbacks call started runs later under the reactor; its
    // steps show under the code that made this call.
    if (r.started_generator) {
        if (started_.size() >= max_started_generators) started_.clear();
        started_[r.started_generator] = Stack(logical.begin(), logical.end() - 1);
    }
    if (!r.is_yield) {  // a call (or a generator) that ends
        started_.erase(r.frame);
        callers_.erase(r.frame);
    }
    if (!own.empty()) profile_.add(own, self);
}

// The stack as the code was written: above the innermost generator that an @inlineCallbacks call
// started, the stack of that call (itself logical) instead of the reactor's.
Stack CallTrace::logical_stack(const trace_return& r, const Stack& physical) const {
    if (started_.empty()) return physical;
    size_t n = std::min<size_t>(r.nframes, PYAT_TRACE_FRAMES);
    size_t offset = physical.size() - n;  // the frames above the ones sent
    for (size_t i = 0; i < n; i++) {
        auto known = started_.find(r.frame_addresses[i]);
        if (known == started_.end()) continue;
        Stack out = known->second;
        out.insert(out.end(), physical.begin() + long(offset + (n - 1 - i)), physical.end());
        return out;
    }
    return physical;
}

// CPython 3.11: a collection starts inside the call at frames[0]; it is a [gc] call of that one,
// and its time is not that call's own.
void CallTrace::add_gc_start(const trace_return& r) {
    if (!resolver_ || r.nframes == 0) return;
    gc_running_[r.hdr.tid] = {r.hdr.ktime_ns, r.frame, logical_stack(r, stack_from(r))};
}

bool CallTrace::add_gc_done(uint32_t tid, uint64_t now) {
    auto it = gc_running_.find(tid);
    if (it == gc_running_.end()) return false;
    auto [start, frame, stack] = std::move(it->second);
    gc_running_.erase(it);
    if (gc_function_ == UINT32_MAX) gc_function_ = profile_.intern({"[gc]", "", 0});
    uint64_t took = now > start ? now - start : 0;
    child_ns_[frame] += took;
    stack.push_back({gc_function_, 0});
    count_call(stack, stack.size() - 1, gc_function_);
    calls_++;
    Stack own = shown(stack);
    if (!own.empty()) profile_.add(own, took);
    return true;
}

void CallTrace::finish(uint64_t end_ns) {
    for (auto& [tid, s] : threads_) leave(s, 0, end_ns);
    threads_.clear();
    flush_tree();
}

}  // namespace pyat
