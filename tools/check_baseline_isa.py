#!/usr/bin/env python3
"""Prove that what ships runs on any x86-64 CPU: only src/*_avx2.c and src/*_avx512.c may use AVX.

A wheel crashes with "illegal instruction" on an older CPU if any code that
runs before (or without) the run-time cpuid check was compiled with AVX.
setup.py compiles src/*_avx2.c with -mavx2 -mfma, src/*_avx512.c with -mavx512f, and everything else (the
other C files and the Cython module cconv/_core.c) for the baseline ISA.
This script disassembles the baseline object files with `objdump -d` and
fails if any of them holds an AVX instruction: a ymm/zmm register operand,
an AVX-512 mask register, or a VEX/EVEX-encoded (v-prefixed) mnemonic.

As a positive control it also requires that the *_avx2 objects DO contain
ymm instructions (on x86-64), so a broken disassembly or a pattern that no
longer matches cannot make the check pass vacuously.

Usage:
    python tools/check_baseline_isa.py --objects BUILD_TEMP_DIR
        check the objects under an existing build_ext temp dir
        (e.g. build/temp.linux-x86_64-cpython-311)
    python tools/check_baseline_isa.py --build [--keep DIR]
        copy the source tree to a temp dir, run
        `python setup.py build_ext -b DIR/lib -t DIR/obj` there, check DIR/obj
Exit status: 0 clean, 1 AVX found in a baseline object, 2 cannot check.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Registers that only exist with AVX (ymm), AVX-512 (zmm, k0-k7).
_AVX_REG = re.compile(r"%[yz]mm\d+|%k[0-7]\b")
# Mnemonics that start with 'v' but are not AVX (VMX, verr/verw).
_NOT_AVX_V = re.compile(r"^v(mcall|mlaunch|mresume|mxoff|mxon|mread|mwrite|mptrld|mptrst|"
                        r"mclear|mfunc|mrun|mload|msave|mmcall|err|erw)\b")
# One disassembled instruction (objdump -d --no-show-raw-insn): "  addr:\t<mnemonic> <operands>".
_INSN = re.compile(r"^\s*[0-9a-f]+:\t(\S+)\s*(.*)$")
_FORMAT = re.compile(r"file format (\S+)")
_FUNC = re.compile(r"^[0-9a-f]+ <(.+)>:$")


def is_avx2_object(path: str) -> bool:
    """Objects built from src/*_avx2.c or src/*_avx512.c (the only ones allowed AVX)."""
    return os.path.basename(path).endswith(("_avx2.o", "_avx2.obj", "_avx512.o", "_avx512.obj"))


def find_objects(objdir: str) -> list[str]:
    found = []
    for dirpath, _dirs, files in os.walk(objdir):
        for f in files:
            if f.endswith((".o", ".obj")):
                found.append(os.path.join(dirpath, f))
    return sorted(found)


def avx_instructions(obj: str, objdump: str = "objdump") -> list[str]:
    """'function: instruction' for every AVX instruction in the object."""
    out = subprocess.run([objdump, "-d", "--no-show-raw-insn", obj],
                         capture_output=True, text=True, check=True).stdout
    fmt = _FORMAT.search(out)
    if not fmt or "x86-64" not in fmt.group(1) and "x86_64" not in fmt.group(1):
        return []  # not x86-64 code (aarch64 builds have no AVX to look for)
    hits = []
    func = "?"
    for line in out.splitlines():
        m = _FUNC.match(line)
        if m:
            func = m.group(1)
            continue
        m = _INSN.match(line)
        if not m:
            continue
        mnem, ops = m.group(1), m.group(2)
        vex = mnem.startswith("v") and not _NOT_AVX_V.match(mnem)
        if vex or _AVX_REG.search(ops):
            hits.append(f"{func}: {mnem} {ops}".rstrip())
    return hits


def check(objdir: str, objdump: str = "objdump", verbose: bool = True) -> int:
    objs = find_objects(objdir)
    if not objs:
        print(f"check_baseline_isa: no object files under {objdir}", file=sys.stderr)
        return 2
    baseline = [o for o in objs if not is_avx2_object(o)]
    avx2 = [o for o in objs if is_avx2_object(o)]
    if not any(os.path.basename(o).startswith("_core.") for o in baseline):
        print(f"check_baseline_isa: the Cython module's object (_core.o) is not under {objdir}",
              file=sys.stderr)
        return 2
    bad = 0
    for o in baseline:
        hits = avx_instructions(o, objdump)
        rel = os.path.relpath(o, objdir)
        if hits:
            bad += 1
            print(f"FAIL {rel}: {len(hits)} AVX instruction(s) in a baseline object, e.g.")
            for h in hits[:5]:
                print(f"       {h}")
        elif verbose:
            print(f"ok   {rel}: baseline (no ymm/zmm, no VEX)")
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    if x86:
        if not avx2:
            print("check_baseline_isa: no *_avx2 objects on x86-64; the build did not compile "
                  "the AVX2 kernels", file=sys.stderr)
            return 2
        for o in avx2:
            n = len(avx_instructions(o, objdump))
            rel = os.path.relpath(o, objdir)
            if n == 0:
                print(f"check_baseline_isa: positive control failed: {rel} has no AVX "
                      "instruction, so the detector cannot be trusted", file=sys.stderr)
                return 2
            if verbose:
                print(f"ok   {rel}: per-ISA object, {n} AVX instructions (allowed)")
    if bad:
        print(f"check_baseline_isa: {bad} baseline object(s) contain AVX; they would crash "
              "with 'illegal instruction' on CPUs without AVX")
        return 1
    print(f"check_baseline_isa: OK, {len(baseline)} baseline object(s) clean, "
          f"{len(avx2)} AVX2/AVX-512 object(s)")
    return 0


def build(dest: str) -> str:
    """Build the extension from a copy of the source tree; return the object dir."""
    src = os.path.join(dest, "src-copy")
    ignore = shutil.ignore_patterns("build", "dist", "*.so", "*.pyd", "*.o", "_core.c",
                                    "__pycache__", "*.egg-info", ".git", ".hypothesis",
                                    ".pytest_cache")
    os.makedirs(src)
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE", "src", "cconv"):
        p = os.path.join(ROOT, name)
        if os.path.isdir(p):
            shutil.copytree(p, os.path.join(src, name), ignore=ignore)
        elif os.path.exists(p):
            shutil.copy2(p, src)
    lib, obj = os.path.join(dest, "lib"), os.path.join(dest, "obj")
    env = dict(os.environ)
    env.pop("CCONV_NATIVE", None)  # what ships never uses -march=native
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "-b", lib, "-t", obj],
                   cwd=src, env=env, check=True)
    return obj


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--objects", metavar="DIR", help="build_ext temp dir holding the objects")
    g.add_argument("--build", action="store_true", help="build from a copy, then check")
    ap.add_argument("--keep", metavar="DIR", help="with --build: build here and keep it")
    ap.add_argument("--objdump", default=os.environ.get("OBJDUMP", "objdump"))
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    if shutil.which(a.objdump) is None:
        print(f"check_baseline_isa: {a.objdump} not found", file=sys.stderr)
        return 2
    if a.objects:
        return check(a.objects, a.objdump, not a.quiet)
    dest = a.keep or tempfile.mkdtemp(prefix="cconv-isa-")
    try:
        return check(build(dest), a.objdump, not a.quiet)
    finally:
        if not a.keep:
            shutil.rmtree(dest, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
