#include "runtimes/twisted/deferred_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "writers/event_log_writer.h"
#include "profile/frame_label.h"

namespace pyat {

std::string object_id(uint64_t address) { return fmt::format("{:#x}", address); }

DeferredLog::DeferredLog(pid_t pid, const CpythonLayout& layout)
    : pid_(pid), layout_(layout), objects_(ProcessMemory(pid), layout) {}

std::string DeferredLog::type_name(uint64_t type) {
    if (!type) return "";
    if (auto known = type_names_.find(type); known != type_names_.end()) return known->second;
    uint64_t name = objects_.read_pointer(type + layout_.type_name);
    auto bytes = name ? objects_.memory().read_bytes(name, 64) : std::nullopt;
    if (!bytes) return "";  // not remembered: the process may just have exited
    auto end = std::find(bytes->begin(), bytes->end(), uint8_t(0));
    if (end == bytes->end()) return "";
    return type_names_[type] = std::string(bytes->begin(), end);
}

std::string DeferredLog::describe_callable(const py_frame& callable, CodeResolver& resolver) {
    if (callable.instr == DEFERRED_CALLABLE_TYPE) {
        std::string type = type_name(callable.code);
        return type.empty() ? "(unreadable)" : type;
    }
    ResolvedFrame r = resolver.resolve(callable);
    return code_label(*r.name, *r.file, r.first_line);
}

void DeferredLog::push(DeferredEvent e) {
    if (events_.size() >= max_events) {
        dropped_++;
        return;
    }
    events_.push_back(std::move(e));
}

void DeferredLog::add(const py_sample& event, std::shared_ptr<const std::vector<std::string>> stack,
                      CodeResolver& resolver) {
    const event_header& h = event.hdr;
    DeferredEvent e;
    e.pid = pid_;
    e.tid = h.tid;
    e.time_ns = h.ktime_ns;
    e.deferred = object_id(h.deferred.self);
    auto field = [&](const char* name, const std::string& text) { e.fields.emplace_back(name, json_string(text)); };
    auto callable = [&](unsigned i) {
        return i < h.deferred_detail.callables && i < PYAT_MAX_FRAMES ? describe_callable(event.frames[i], resolver)
                                                                : std::string("(unknown)");
    };
    switch (h.deferred_detail.event) {
        case DEFERRED_CREATED:
            e.what = "created";
            if (auto old = pending_.find(h.deferred.self); old != pending_.end()) {
                // A new Deferred where an unfired one was: that one was freed without firing.
                push(unfired("abandoned", h.deferred.self, old->second, h.ktime_ns));
            }
            pending_[h.deferred.self] = Created{h.ktime_ns, h.tid, stack};
            last_returned_.erase(h.deferred.self);
            break;
        case DEFERRED_CALLBACKS_ADDED:
            e.what = "callbacks_added";
            field("callback", callable(0));
            field("errback", callable(1));
            break;
        case DEFERRED_FIRED:
        case DEFERRED_FAILED:
            e.what = h.deferred_detail.event == DEFERRED_FIRED ? "fired" : "failed";
            if (auto type = type_name(h.deferred_result_type); !type.empty()) field("result", type);
            pending_.erase(h.deferred.self);
            break;
        case DEFERRED_CHAINED:
            e.what = "chained";
            field("chained", object_id(h.deferred.first));
            field("by", "chainDeferred");
            break;
        case DEFERRED_CHAINED_BY_RESULT: {
            // `deferred.self` pauses until the Deferred its callback returned fires: that one's result
            // goes on down its callbacks.
            auto returned = last_returned_.find(h.deferred.self);
            if (returned == last_returned_.end()) return;
            e.what = "chained";
            e.deferred = object_id(returned->second);
            field("chained", object_id(h.deferred.self));
            field("by", "callback result");
            break;
        }
        case DEFERRED_CALLBACK_RAN: {
            e.what = "callback_ran";
            field("callable", callable(0));
            e.fields.emplace_back("duration_ms", fmt::format("{:.3f}", double(h.weight_ns) / 1e6));
            const char* outcome = h.deferred_detail.outcome == OUTCOME_RAISED             ? "raised"
                                  : h.deferred_detail.outcome == OUTCOME_RETURNED_FAILURE ? "returned failure"
                                                                                   : "returned";
            field("outcome", outcome);
            if (h.deferred.second) {
                if (auto type = type_name(h.deferred_result_type); !type.empty()) field("returned", type);
                last_returned_[h.deferred.self] = h.deferred.second;
            } else {
                last_returned_.erase(h.deferred.self);
            }
            break;
        }
        default:
            return;
    }
    e.stack = std::move(stack);
    push(std::move(e));
}

void DeferredLog::finish(uint64_t end_ns) {
    std::vector<std::pair<uint64_t, const Created*>> pending;
    for (const auto& [deferred, created] : pending_) pending.emplace_back(deferred, &created);
    std::sort(pending.begin(), pending.end(),
              [](const auto& a, const auto& b) { return a.second->time_ns < b.second->time_ns; });
    for (const auto& [deferred, created] : pending) push(unfired("pending", deferred, *created, end_ns));
    pending_.clear();
}

DeferredEvent DeferredLog::unfired(const char* what, uint64_t deferred, const Created& created, uint64_t now_ns) const {
    DeferredEvent e;
    e.what = what;
    e.pid = pid_;
    e.tid = created.tid;
    e.time_ns = now_ns;
    e.created_ns = created.time_ns;
    e.deferred = object_id(deferred);
    e.fields.emplace_back("age_s", fmt::format("{:.3f}", double(now_ns - std::min(now_ns, created.time_ns)) / 1e9));
    e.stack = created.stack;
    return e;
}

}  // namespace pyat
