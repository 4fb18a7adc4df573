"""Build the compiled core: every llmsim/core/*.pyx becomes an extension over csrc/.

Flags keep symbols and frame pointers so perf and py-spy see llmsim's own frames.
Environment switches:
  LLMSIM_DEBUG=1   -O0 -g3 -UNDEBUG and the LLMSIM_DEBUG macro (live-object counters)
  LLMSIM_NATIVE=1  -march=native (never used for published wheels)
"""
import glob
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("LLMSIM_DEBUG") == "1"
NATIVE = os.environ.get("LLMSIM_NATIVE") == "1"

cflags = ["-std=gnu11", "-fno-omit-frame-pointer", "-Wall", "-Wno-unused-function"]
if DEBUG:
    cflags += ["-O0", "-g3", "-UNDEBUG", "-DLLMSIM_DEBUG=1"]
else:
    cflags += ["-O2", "-g"]
if NATIVE:
    cflags.append("-march=native")

extensions = [
    Extension(
        path[:-4].replace(os.sep, "."),
        [path],
        include_dirs=["csrc"],
        depends=glob.glob("csrc/*.h"),
        extra_compile_args=cflags,
        define_macros=[("LLMSIM_BUILD_CFLAGS", '"%s"' % " ".join(cflags))],
    )
    for path in sorted(glob.glob(os.path.join("llmsim", "core", "*.pyx")))
]

setup(
    # Compile the extensions side by side: a fresh install builds in a fraction of the time.
    options={"build_ext": {"parallel": os.cpu_count() or 1}},
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"embedsignature": True},
        compile_time_env={"LLMSIM_DEBUG": DEBUG},
        nthreads=os.cpu_count() or 1,
    ),
)
