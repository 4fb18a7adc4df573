/* A prepare and a check handle on a libuv loop that another module owns (uvloop's), made
   through the libuv functions that module exports, so no second copy of libuv is linked.

   libuv runs prepare handles right before it polls for I/O and check handles right after
   the poll's callbacks, once per loop iteration (libuv's documented loop order); both
   handles are unreferenced, so they never keep a loop alive by themselves.

   The handles live in the hooks struct; libuv's handle sizes are checked against the room
   kept for them when the functions are resolved. */
#ifndef LLMSIM_UVHOOKS_H
#define LLMSIM_UVHOOKS_H

#include <dlfcn.h>
#include <stddef.h>

typedef void (*llmsim_uv_hook_cb)(void *handle);

/* libuv's uv_handle_type numbers of the two handle kinds (fixed across libuv 1.x) */
enum { LLMSIM_UV_CHECK = 2, LLMSIM_UV_PREPARE = 9 };
#define LLMSIM_UV_HANDLE_ROOM 256

typedef struct {
    _Alignas(16) unsigned char prepare[LLMSIM_UV_HANDLE_ROOM];
    _Alignas(16) unsigned char check[LLMSIM_UV_HANDLE_ROOM];
    int (*prepare_init)(void *loop, void *handle);
    int (*prepare_start)(void *handle, llmsim_uv_hook_cb cb);
    int (*check_init)(void *loop, void *handle);
    int (*check_start)(void *handle, llmsim_uv_hook_cb cb);
    void (*unref)(void *handle);
    void (*close)(void *handle, llmsim_uv_hook_cb close_cb);
    size_t (*handle_size)(int type);
    int on;
} llmsim_uv_hooks;

/* Take libuv's functions from the loaded shared object at `path`: NULL, or what failed. */
static inline const char *llmsim_uv_hooks_resolve(llmsim_uv_hooks *h, const char *path)
{
    const char *missing = NULL;
    void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (lib == NULL)
        return "the module is not loaded";
#define LLMSIM_UV_FN(field, name) \
    if (missing == NULL && (*(void **)&h->field = dlsym(lib, name)) == NULL) missing = name;
    LLMSIM_UV_FN(prepare_init, "uv_prepare_init")
    LLMSIM_UV_FN(prepare_start, "uv_prepare_start")
    LLMSIM_UV_FN(check_init, "uv_check_init")
    LLMSIM_UV_FN(check_start, "uv_check_start")
    LLMSIM_UV_FN(unref, "uv_unref")
    LLMSIM_UV_FN(close, "uv_close")
    LLMSIM_UV_FN(handle_size, "uv_handle_size")
#undef LLMSIM_UV_FN
    dlclose(lib);   /* the importer keeps it loaded */
    if (missing != NULL)
        return missing;
    if (h->handle_size(LLMSIM_UV_PREPARE) > LLMSIM_UV_HANDLE_ROOM
            || h->handle_size(LLMSIM_UV_CHECK) > LLMSIM_UV_HANDLE_ROOM)
        return "libuv handles larger than the room kept for them";
    return NULL;
}

/* Start `before` (each iteration, before the poll) and `after` (after its callbacks) on
   `loop`: 0, or libuv's negative error (then both handles are made: close them). */
static inline int llmsim_uv_hooks_start(llmsim_uv_hooks *h, void *loop, llmsim_uv_hook_cb before,
                                 llmsim_uv_hook_cb after)
{
    int r;
    h->prepare_init(loop, h->prepare);   /* libuv: "always succeeds" */
    h->check_init(loop, h->check);
    h->unref(h->prepare);
    h->unref(h->check);
    h->on = 1;
    /* the check first: a loop iteration never takes without giving back */
    r = h->check_start(h->check, after);
    if (r == 0)
        r = h->prepare_start(h->prepare, before);
    return r;
}

/* Close both handles; the loop finishes closing them on its next run (or as it closes),
   calling `closed` for each. Their memory is not to be reused before. */
static inline void llmsim_uv_hooks_close(llmsim_uv_hooks *h, llmsim_uv_hook_cb closed)
{
    if (!h->on)
        return;
    h->on = 0;
    h->close(h->prepare, closed);
    h->close(h->check, closed);
}

#endif
