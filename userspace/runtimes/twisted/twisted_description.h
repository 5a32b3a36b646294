// What the tracer relies on in Twisted, per release, loaded from probes/twisted/*.conf: names of
// functions, locals, closure cells and attributes in twisted.internet.defer, and which frames a
// logical inlineCallbacks stack hides. Names only: they are looked up in the target's objects.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pyat {

struct TwistedDescription {
    int major = 0, minor = 0;  // the Twisted release described
    const char* source = "";
    const char* defer_module = "";
    const char* defer_file = "";  // path suffix of defer.py in code objects
    const char* inline_callbacks = "";         // function that drives an @inlineCallbacks generator
    const char* inline_callbacks_status = "";  // its local holding the generator's status
    const char* status_class = "";
    const char* status_deferred = "";          // status attribute: the Deferred the caller got
    const char* deferred_class = "";
    const char* deferred_callbacks = "";       // Deferred attribute: the list of callback pairs
    const char* awaiter = "";                  // callback that resumes a waiting generator
    const char* awaiter_nested_in = "";        // "" when the awaiter is a module-level function
    const char* awaiter_holds = "";            // "closure" (cells) or "args" (callback arguments)
    const char* awaiter_gen = "";
    const char* awaiter_status = "";
    const char* first_run_frames = "";         // space-separated defer.py function names
    const char* resume_frames = "";
    const char* reactor_entries = "";          // space-separated "file-suffix:function"
    // Deferred lifecycle log: methods of deferred_class whose returns are events, and their locals.
    const char* created = "";
    const char* callbacks_added = "";
    const char* callbacks_added_callback = "";
    const char* callbacks_added_errback = "";
    const char* fired = "";
    const char* fired_result = "";
    const char* failed = "";
    const char* failed_result = "";
    const char* chained = "";
    const char* chained_other = "";
    const char* chained_by_result = "";  // returns once a callback's unfired Deferred is chained
    const char* runner = "";             // runs the callbacks
    const char* runner_deferred = "";    // its local: the Deferred whose callback runs
    const char* runner_callable = "";    // its local: the callback running
    const char* failure_class = "";      // in the defer module's globals
    // --mode trace: what an @inlineCallbacks function is called through.
    const char* wrapper = "";
    const char* wrapper_nested_in = "";
    const char* wrapper_function = "";   // the wrapper's free variable holding the decorated function
    const char* wrapper_generator = "";  // the wrapper's local holding the generator it made
};

// Newest release first.
const std::vector<TwistedDescription>& known_twisted_descriptions();

// "a b c" -> {"a", "b", "c"}
std::vector<std::string> split_names(std::string_view names);

}  // namespace pyat
