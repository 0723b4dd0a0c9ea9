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


# every ISA with Winograd kernels (the scan's users) the CPU runs, as
# CCONV_DISABLE_CPU_FEATURES chooses it
_SCAN_ENVS = []
if cconv._core.cpu_has_avx2():
    _SCAN_ENVS.append(("avx2", "avx512f"))
if cconv._core.cpu_has_avx512():
    _SCAN_ENVS.append(("avx512", ""))

_SCAN_CODE = """
import numpy as np, cconv
print(cconv._core.isa())
for dt in (np.float32, np.float64):
    for k in (1, 3, 113, 114, 455):    # 3x3 weights: 9 .. 4095 values
        w = np.ones((k, 1, 3, 3), dt)
        n = w.size
        clean = cconv._core.PackedWeights(w).nbytes
        direct = cconv._core.PackedWeights(w, _direct_only=True).nbytes
        assert clean > direct   # a finite 3x3 packs the Winograd layout too
        for pos in sorted({0, n // 2, n - 1, min(n - 1, 1023), min(n - 1, 1024)}):
            for v in (np.inf, -np.inf, np.nan):
                w.reshape(-1)[pos] = v
                assert cconv._core.PackedWeights(w).nbytes == direct, (dt, n, pos, v)
                w.reshape(-1)[pos] = np.finfo(dt).max    # finite: the scan must pass it
                assert cconv._core.PackedWeights(w).nbytes == clean, (dt, n, pos)
                w.reshape(-1)[pos] = 1
print("ok")
"""


@pytest.mark.skipif(not _SCAN_ENVS, reason="no Winograd kernels on this CPU")
@pytest.mark.parametrize("isa, disable", _SCAN_ENVS or [("none", "")],
                         ids=[e[0] for e in _SCAN_ENVS] or ["none"])
def test_finite_scan_on_each_isa(isa, disable):
    """The weights' finiteness scan (finite_scan.h, compiled for each ISA and
    run for the active one) finds an infinity or NaN at either end of a
    1024-value block and of short and odd-length arrays, and passes the
    largest finite value: non-finite weights pack for the direct kernel only."""
    r = _run(_SCAN_CODE, CCONV_DISABLE_CPU_FEATURES=disable)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == [isa, "ok"]
