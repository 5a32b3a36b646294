/* A stand-in for a CPython that fires function__entry and function__return for every call (as
 * builds --with-dtrace of CPython <= 3.10 and 3.15 do), made from Debian's python3.11 itself: a
 * C profile hook (PyEval_SetProfile) fires python:function__entry / function__return USDT probes
 * from this library, with CPython's argument layout (filename, qualified name, line) and
 * semaphores. Loaded with ctypes.PyDLL and installed by pyat_install_profile_hook(), on the
 * calling thread (greenlets of that thread included).
 *
 * With it, --mode trace's entry/return path runs on real Python code: gevent greenlets switching in
 * the middle of calls (tests/workloads/gevent_calls.py, run with --profile-hook).
 */
#define _SDT_HAS_SEMAPHORES 1
#include <Python.h>
#include <frameobject.h>
#include <sys/sdt.h>

unsigned short python_function__entry_semaphore __attribute__((section(".probes"), used));
unsigned short python_function__return_semaphore __attribute__((section(".probes"), used));

static int on_profile_event(PyObject *unused, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)unused;
    (void)arg;
    if ((what != PyTrace_CALL || !python_function__entry_semaphore) &&
        (what != PyTrace_RETURN || !python_function__return_semaphore))
        return 0;
    PyCodeObject *code = PyFrame_GetCode(frame);
    /* Borrowed from the code object, which outlives the call: stable pointers, as in CPython. */
    const char *file = PyUnicode_AsUTF8(code->co_filename);
    const char *name = PyUnicode_AsUTF8(code->co_qualname);
    int line = code->co_firstlineno;
    if (file && name) {
        if (what == PyTrace_CALL)
            STAP_PROBE3(python, function__entry, file, name, line);
        else
            STAP_PROBE3(python, function__return, file, name, line);
    }
    Py_DECREF(code);
    return 0;
}

void pyat_install_profile_hook(void)
{
    PyEval_SetProfile(on_profile_event, NULL);
}
