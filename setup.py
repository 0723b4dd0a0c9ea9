"""Build cconv's extension: the Cython binding plus the C kernels in src/.

* Every C file is compiled for the baseline ISA with -O3, except files named
  `*_avx2.c` (AVX2/FMA flags) and `*_avx512.c` (AVX-512F flags), which only
  run after the run-time CPU check in src/dispatch.c.  Native-CPU tuning is an opt-in for local builds
  only (CCONV_NATIVE=1 adds -march=native); what ships never has it.
* OpenMP is detected by compiling, linking and running a probe program;
  without it the build is serial with a warning, unless
  CCONV_REQUIRE_OPENMP=1, which turns the warning into an error.
* CCONV_SANITIZE=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer.
"""
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = "src"

OMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel num_threads(2) reduction(+: n)
        n += 1;
        printf("%d\\n", n);
        return n == 2 ? 0 : 1;
    }
    """
)


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _is_x86_64():
    machine = (os.environ.get("CCONV_TARGET_ARCH") or platform.machine()).lower()
    return machine in ("x86_64", "amd64", "x64")


def _compiler_kind(compiler):
    if compiler.compiler_type == "msvc":
        return "msvc"
    cc = " ".join(getattr(compiler, "compiler", []) or [os.environ.get("CC", "cc")])
    if sys.platform == "darwin":
        return "apple-clang" if "gcc" not in cc else "gcc"
    return "gcc"


def _openmp_flags(kind):
    """(compile flags, link flags) for OpenMP with this compiler."""
    if kind == "msvc":
        return ["/openmp"], []
    if kind == "apple-clang":
        prefix = os.environ.get("LIBOMP_PREFIX") or (
            "/opt/homebrew/opt/libomp" if os.path.isdir("/opt/homebrew/opt/libomp")
            else "/usr/local/opt/libomp")
        return (["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
                [f"-L{prefix}/lib", "-lomp"])
    return ["-fopenmp"], ["-fopenmp"]


def _accepts(compiler, flags):
    """True when the compiler builds an empty C file with these flags."""
    tmp = tempfile.mkdtemp(prefix="cconv-flags-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("int cconv_probe(void) { return 0; }\n")
        compiler.compile([src], output_dir=tmp, extra_postargs=flags)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not accepted"
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _probe_openmp(compiler, cflags, ldflags):
    """Compile, link and run a tiny OpenMP program; True when it works."""
    tmp = tempfile.mkdtemp(prefix="cconv-omp-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OMP_PROBE)
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
        exe = os.path.join(tmp, "probe")
        compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=ldflags)
        if sys.platform == "win32":
            exe += ".exe"
        out = subprocess.run([exe], capture_output=True, text=True, timeout=60)
        return out.returncode == 0 and out.stdout.strip() == "2"
    except Exception:  # noqa: BLE001 - any failure means "no OpenMP"
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    """Per-ISA flags for *_avx2.c / *_avx512.c sources and an OpenMP probe."""

    def build_extensions(self):
        kind = _compiler_kind(self.compiler)
        msvc = kind == "msvc"
        base = ["/O2", "/std:c11"] if msvc else ["-O3", "-std=c11", "-fno-math-errno"]
        if not msvc:
            base += ["-Wall", "-Wno-unused-function"]
        if _env_flag("CCONV_NATIVE") and not msvc:
            base.append("-march=native")  # opt-in only: never in what ships
        link = []
        if _env_flag("CCONV_SANITIZE") and not msvc:
            san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"]
            base += san
            link += ["-fsanitize=address,undefined"]

        omp_c, omp_l = _openmp_flags(kind)
        if _env_flag("CCONV_DISABLE_OPENMP"):
            have_omp = False
        else:
            have_omp = _probe_openmp(self.compiler, base + omp_c, link + omp_l)
        if have_omp:
            print("cconv: OpenMP found, building the parallel kernels")
        else:
            if _env_flag("CCONV_REQUIRE_OPENMP"):
                raise RuntimeError(
                    "cconv: OpenMP was required (CCONV_REQUIRE_OPENMP=1) but the compiler "
                    "could not build and run an OpenMP program")
            print("WARNING: cconv: OpenMP not available; building SERIAL kernels "
                  "(set CCONV_REQUIRE_OPENMP=1 to make this an error)", file=sys.stderr)
            omp_c, omp_l = [], []

        x86 = _is_x86_64()
        # per-ISA sources: *_avx2.c and *_avx512.c, each with its own flags
        # -funroll-loops: the microkernels' reduction loops run a few dozen
        # to a few thousand steps of 12-16 FMAs each; unrolled, their loop
        # overhead leaves the FMA ports (AVX2, Zen 3, paired A/B, one
        # thread: 1x1 layers x1.04-1.15, 7x7/s2 3 -> 64 x1.09, 5x5 192 -> 32
        # x1.11, 3x3/s2 128 -> 128 x1.09, Winograd layers x1.01-1.03)
        unroll = [] if msvc else ["-funroll-loops"]
        # functions and loops on 64-byte lines: where a microkernel's loop
        # falls relative to the lines moved its speed by 2-3 % from one
        # unrelated change to the next; aligned, the AVX-512 1x1 layers ran
        # x1.01-1.025 (Intel family 6 model 167, paired A/B, one thread),
        # the rest x0.99-1.01, the AVX2 table x0.98-1.01
        align = ["-falign-functions=64", "-falign-loops=64"]
        if msvc or not _accepts(self.compiler, align):
            align = []
        isa_flags = {
            "_avx2.c": ["/arch:AVX2"] if msvc else ["-mavx2", "-mfma"] + unroll + align,
            "_avx512.c": ["/arch:AVX512"] if msvc else ["-mavx512f", "-mavx2", "-mfma"] + unroll + align,
        }
        macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
        if x86:
            macros.append(("CCONV_HAVE_AVX2", "1"))
        for ext in self.extensions:
            isa_srcs = {sfx: [s for s in ext.sources if s.endswith(sfx)] for sfx in isa_flags}
            ext.sources = [s for s in ext.sources if not s.endswith(tuple(isa_flags))]
            # relink when a per-ISA source changes (they are not in ext.sources)
            ext.depends = list(ext.depends) + [s for v in isa_srcs.values() for s in v]
            ext.define_macros += macros
            ext.extra_compile_args = base + omp_c
            ext.extra_link_args = link + omp_l
            for sfx, srcs in isa_srcs.items():
                if not (x86 and srcs):
                    continue
                objs = self.compiler.compile(
                    srcs, output_dir=self.build_temp, macros=macros,
                    include_dirs=ext.include_dirs, extra_postargs=base + omp_c + isa_flags[sfx],
                    depends=ext.depends)
                ext.extra_objects = list(ext.extra_objects or []) + objs
        super().build_extensions()


sources = ["cconv/_core.pyx"] + sorted(glob(os.path.join(SRC, "*.c")))
ext = Extension(
    "cconv._core",
    sources=sources,
    include_dirs=[SRC, numpy.get_include()],
    depends=sorted(glob(os.path.join(SRC, "*.h"))),
)

setup(
    ext_modules=cythonize(
        [ext],
        compiler_directives={"language_level": 3},
        quiet=True,
    ),
    cmdclass={"build_ext": BuildExt},
)
