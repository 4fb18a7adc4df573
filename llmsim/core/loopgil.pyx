# cython: language_level=3
"""A worker's loop keeps the GIL through each I/O poll and the callbacks that poll runs.

uvloop lets go of the GIL while libuv runs, so each libuv callback into Python takes the GIL
and gives it back: for one request, the read-buffer callback and the read callback, two
mutex and condition-variable round trips. A worker runs one Python thread, so nothing ever
waits for its GIL: here a prepare handle (run just before the loop polls) takes it once per
loop iteration and a check handle (run just after the poll's callbacks) gives it back, and
every callback in between finds it held (PyGILState_Ensure then only counts). Under load one
poll answers many connections for one round trip.

While another Python thread exists (none does in a worker), the prepare handle gives the GIL
straight back, so that thread never waits on a blocked poll. Timers, call_soon callbacks and
the loop's own bookkeeping run outside the held span, as before.
"""

from libc.stdint cimport uint64_t

import uvloop.loop

cdef extern from "Python.h":
    ctypedef struct PyThreadState
    ctypedef struct PyInterpreterState
    PyThreadState *PyEval_SaveThread() nogil
    void PyEval_RestoreThread(PyThreadState *) nogil
    PyThreadState *PyThreadState_Get()
    int PyGILState_Check() nogil
    PyInterpreterState *PyThreadState_GetInterpreter(PyThreadState *) nogil
    PyThreadState *PyInterpreterState_ThreadHead(PyInterpreterState *) nogil
    PyThreadState *PyThreadState_Next(PyThreadState *) nogil
    void *PyCapsule_GetPointer(object, const char *) except? NULL

cdef extern from "llmsim_uvhooks.h" nogil:
    ctypedef void (*llmsim_uv_hook_cb)(void *handle) noexcept nogil
    ctypedef struct llmsim_uv_hooks:
        int on
    const char *llmsim_uv_hooks_resolve(llmsim_uv_hooks *h, const char *path)
    int llmsim_uv_hooks_start(llmsim_uv_hooks *h, void *loop, llmsim_uv_hook_cb before,
                              llmsim_uv_hook_cb after)
    void llmsim_uv_hooks_close(llmsim_uv_hooks *h, llmsim_uv_hook_cb closed)

cdef llmsim_uv_hooks hooks
cdef PyThreadState *owner = NULL   # the thread state of the loop's thread
cdef bint held = False             # taken by before_poll, to give back in after_poll
cdef uint64_t held_polls = 0
cdef int closing = 0               # handles closed whose loop has not finished closing them


cdef void before_poll(void *handle) noexcept nogil:
    global held, held_polls
    if PyGILState_Check():   # the loop runs with the GIL held: nothing to take
        return
    PyEval_RestoreThread(owner)
    if PyThreadState_Next(PyInterpreterState_ThreadHead(PyThreadState_GetInterpreter(owner))):
        PyEval_SaveThread()   # another Python thread may want it while the poll blocks
        return
    held = True
    held_polls += 1


cdef void after_poll(void *handle) noexcept nogil:
    global held
    if held:
        held = False
        PyEval_SaveThread()


cdef void closed(void *handle) noexcept nogil:
    global closing
    closing -= 1


cdef void close_hooks() noexcept:
    global closing
    if hooks.on:
        closing += 2
        llmsim_uv_hooks_close(&hooks, closed)


def hold(loop):
    """Keep the GIL through `loop`'s polls (a uvloop loop run by this thread) until
    `release`; raises RuntimeError when libuv's functions cannot be had."""
    global owner
    if hooks.on:
        raise RuntimeError("the GIL is already held through a loop's polls")
    if closing:
        raise RuntimeError("the handles of the loop last held are still closing: "
                           "run or close that loop first")
    cdef bytes path = uvloop.loop.__file__.encode()
    cdef const char *why = llmsim_uv_hooks_resolve(&hooks, path)
    if why != NULL:
        raise RuntimeError("cannot hook uvloop's libuv (%s): %s"
                           % (uvloop.loop.__file__, why.decode()))
    owner = PyThreadState_Get()
    cdef int r = llmsim_uv_hooks_start(&hooks, PyCapsule_GetPointer(
        uvloop.loop.libuv_get_loop_t_ptr(loop), NULL), before_poll, after_poll)
    if r < 0:
        close_hooks()
        raise RuntimeError("starting libuv prepare/check handles failed (%d)" % r)


def release():
    """Stop holding the GIL through polls; call before the loop is closed (the loop
    finishes closing the handles when it runs or closes)."""
    close_hooks()


def polls_held():
    """Loop iterations whose poll ran with the GIL held since this process started."""
    return held_polls
