#!/usr/bin/env python3
"""Test an INSTALLED cconv (a wheel), never the source tree.

Copies tests/ (and the pytest settings) from the project into a fresh
temporary directory, checks that `import cconv` there resolves to an
installed package rather than a checkout, then runs:

  1. pytest on the copied tests (default dispatch: AVX-512 or AVX2 where the CPU has
     it; the kernel tests also run every ISA the CPU has in-process),
  2. pytest again with CCONV_DISABLE_CPU_FEATURES=AVX2 (portable kernels),
  3. python -m cconv (self-check and demo).

Used by cibuildwheel's test-command and by hand:
    python tools/run_wheel_tests.py [PROJECT_DIR] [-- extra pytest args]
Exit status: non-zero if any step fails.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

PYTEST_INI = """[pytest]
markers =
    slow: long-running tests (run with -m slow)
addopts = -m "not slow" -p no:cacheprovider
"""


def _run(cmd: list[str], cwd: str, **env: str) -> int:
    e = dict(os.environ, **env)
    shown = " ".join(f"{k}={v}" for k, v in env.items())
    print(f"\n=== {shown + ' ' if shown else ''}{' '.join(cmd)}  (in {cwd})", flush=True)
    return subprocess.run(cmd, cwd=cwd, env=e).returncode


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    project = os.path.abspath(argv[0]) if argv else os.path.dirname(HERE)
    tmp = tempfile.mkdtemp(prefix="cconv-wheel-tests-")
    try:
        shutil.copytree(os.path.join(project, "tests"), os.path.join(tmp, "tests"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        with open(os.path.join(tmp, "pytest.ini"), "w") as f:
            f.write(PYTEST_INI)
        where = subprocess.run(
            [sys.executable, "-c", "import os, cconv; print(os.path.dirname(cconv.__file__))"],
            cwd=tmp, capture_output=True, text=True)
        if where.returncode != 0:
            print(where.stderr, file=sys.stderr)
            print("run_wheel_tests: cconv is not installed", file=sys.stderr)
            return 1
        pkg = where.stdout.strip()
        if os.path.exists(os.path.join(os.path.dirname(pkg), "setup.py")):
            print(f"run_wheel_tests: cconv imports from a source checkout ({pkg}), "
                  "not from an installed wheel", file=sys.stderr)
            return 1
        print(f"run_wheel_tests: testing the installed cconv at {pkg}")
        pytest = [sys.executable, "-m", "pytest", "-q", "tests"] + extra
        rc = _run(pytest, tmp)
        rc2 = _run(pytest, tmp, CCONV_DISABLE_CPU_FEATURES="AVX2")
        rc3 = _run([sys.executable, "-m", "cconv"], tmp)
        print(f"\nrun_wheel_tests: pytest {rc}, pytest with AVX2 disabled {rc2}, "
              f"python -m cconv {rc3}")
        return 1 if (rc or rc2 or rc3) else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
