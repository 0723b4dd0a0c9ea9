"""Run-time dispatch: the forced AVX2 and portable paths in subprocesses, and
the AVX-512, AVX2 and portable kernels agreeing in-process."""
import os
import subprocess
import sys

import numpy as np
import pytest

import cconv

HERE = os.path.dirname(os.path.abspath(__file__))
# subprocesses import the same cconv this process imported (installed or in-tree)
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(cconv.__file__)))


def _env(**extra):
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PKG_PARENT, env.get("PYTHONPATH")]))
    return env


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(**env), timeout=300, cwd=HERE)


def test_forced_portable_path_is_chosen():
    r = _run("import cconv; print(cconv._core.isa()); cconv.show_config()",
             CCONV_DISABLE_CPU_FEATURES="AVX2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "portable"
    assert "disabled: AVX2" in r.stdout


def test_default_path_matches_cpu():
    disabled = {f.strip().upper() for f in
                os.environ.get("CCONV_DISABLE_CPU_FEATURES", "").replace(",", " ").split()}
    usable = cconv._core.cpu_has_avx2() and not disabled & {"AVX2", "FMA", "FMA3", "AVX"}
    usable512 = usable and cconv._core.cpu_has_avx512() and not disabled & {"AVX512F", "AVX512"}
    expect = "avx512" if usable512 else "avx2" if usable else "portable"
    assert cconv._core.isa() == expect
    assert not cconv._core.cpu_has_avx512() or cconv._core.cpu_has_avx2()


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="no /proc/cpuinfo")
def test_zmm_split_matches_cpuinfo():
    """AVX-512 FMAs at the AVX2 rate: AMD family 25 (Zen 4) with AVX-512F, as
    the kernel's /proc/cpuinfo names the CPU."""
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if not line.strip():
                break   # the first processor's block
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    expect = (info.get("vendor_id") == "AuthenticAMD" and info.get("cpu family") == "25"
              and cconv._core.cpu_has_avx512())
    assert cconv._core.cpu_zmm_split() == expect
    assert cconv._api.config()["cpu_zmm_split"] == expect


@pytest.mark.skipif(not cconv._core.cpu_has_avx512(), reason="the CPU has no AVX-512")
def test_refusing_avx512_steps_down_to_avx2():
    r = _run("import cconv; print(cconv._core.isa()); cconv.show_config()",
             CCONV_DISABLE_CPU_FEATURES="avx512f")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "avx2"


@pytest.mark.skipif(bool(os.environ.get("CCONV_DISABLE_CPU_FEATURES")),
                    reason="already running the forced portable path")
def test_suite_under_forced_portable_path():
    """The convolution and pooling tests pass with the portable kernels forced."""
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        os.path.join(HERE, "test_conv.py"), os.path.join(HERE, "test_pool.py"),
                        "-k", "not suite_shapes"],
                       capture_output=True, text=True, timeout=600, cwd=HERE,
                       env=_env(CCONV_DISABLE_CPU_FEATURES="AVX2"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout


@pytest.mark.skipif(not cconv._core.cpu_has_avx2(), reason="CPU has no AVX2")
def test_isas_agree_within_bound():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 13, 11, 9)).astype(np.float32)
    w = rng.standard_normal((11, 13, 3, 3)).astype(np.float32)
    a = cconv.conv2d(x, cconv.pack_weights(w, _isa="portable"), padding=1)
    b = cconv.conv2d(x, cconv.pack_weights(w, _isa="avx2"), padding=1)
    absref = cconv.conv2d(np.abs(x), np.abs(w), padding=1).astype(np.float64)
    assert (np.abs(a - b) <= 2 * (13 * 9 + 2) * np.finfo(np.float32).eps * absref).all()


def test_main_demo_runs():
    r = subprocess.run([sys.executable, "-m", "cconv"], capture_output=True, text=True,
                       timeout=300, cwd=HERE, env=_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "120,422,400" in r.stdout and "12,443,648" in r.stdout
    assert "self-check: passed" in r.stdout
