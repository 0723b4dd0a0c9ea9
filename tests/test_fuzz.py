"""API fuzzing: tests/fuzz_driver.py throws random valid and invalid arguments at
every public function in a child process (a crash there is a failure here, not
a dead test runner).  Invalid calls may raise only ValueError, TypeError or
MemoryError; valid ones must match the float64 references within their error
bound.  A few hundred cases by default, >= 10,000 with `pytest -m slow`."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cconv
from fuzz_driver import conv_ref_taps, pool_ref_any, pool_ref_clipped_max
from reference import conv_ref, pool_ref

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "fuzz_driver.py")
# the directory the tested cconv was imported from, for the child process
CCONV_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(cconv.__file__)))


def run_driver(cases, seed, timeout, **env):
    e = dict(os.environ, **env)
    e["PYTHONPATH"] = CCONV_ROOT + os.pathsep + e.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, DRIVER, "--cases", str(cases), "--seed", str(seed)],
                       capture_output=True, text=True, timeout=timeout, env=e, cwd=HERE)
    assert r.returncode == 0, (
        f"fuzz driver exited with {r.returncode}"
        + (f" (killed by signal {-r.returncode})" if r.returncode < 0 else "") + "\n"
        f"{r.stderr[-6000:]}\n{r.stdout[-2000:]}")
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["cases"] >= cases, report
    # both outcomes were exercised (per function in the long runs)
    counts = report["counts"]
    oks = sum(v for k, v in counts.items() if k.endswith(":ok"))
    errs = sum(v for k, v in counts.items() if k.endswith(":error"))
    assert oks > cases // 4 and errs > cases // 10, counts
    if cases >= 2000:
        for fn in ("conv1d", "conv2d", "conv3d", "pack_weights", "max_pool1d", "max_pool2d",
                   "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "global_avg_pool2d",
                   "global_max_pool2d", "relu"):
            assert counts.get(fn + ":ok", 0) > 0 and counts.get(fn + ":error", 0) > 0, counts
    return report


@pytest.mark.parametrize("isa_env", [{}, {"CCONV_DISABLE_CPU_FEATURES": "AVX2"}],
                         ids=["dispatched", "portable"])
def test_fuzz_api_short(isa_env):
    run_driver(400 if not isa_env else 200, seed=20240 + len(isa_env), timeout=240, **isa_env)


@pytest.mark.slow
def test_fuzz_api_10k():
    report = run_driver(10_000, seed=7, timeout=1800)
    print("fuzz:", json.dumps(report))


@pytest.mark.slow
def test_fuzz_api_portable_2k():
    run_driver(2_000, seed=8, timeout=900, CCONV_DISABLE_CPU_FEATURES="AVX2")


# ---- the driver's own references agree with tests/reference.py

@pytest.mark.parametrize("trial", range(12))
def test_taps_reference_matches_conv_ref(trial):
    rng = np.random.default_rng(trial)
    nd = 1 + trial % 3
    g = 1 + trial % 2
    Cg, Kg, N = 2, 3, 2
    ks = tuple(int(k) for k in rng.integers(1, 4, nd))
    st = tuple(int(s) for s in rng.integers(1, 3, nd))
    dl = tuple(int(d) for d in rng.integers(1, 3, nd))
    pd = tuple(int(p) for p in rng.integers(0, 3, nd))
    sp = tuple(dl[i] * (ks[i] - 1) + 1 + int(rng.integers(0, 4)) for i in range(nd))
    x = rng.standard_normal((N, Cg * g) + sp)
    w = rng.standard_normal((Kg * g, Cg) + ks)
    b = rng.standard_normal(Kg * g)
    osp = tuple((sp[i] + 2 * pd[i] - dl[i] * (ks[i] - 1) - 1) // st[i] + 1 for i in range(nd))
    r = rng.standard_normal((N, Kg * g) + osp)
    act = "relu" if trial % 2 else None
    y1, a1 = conv_ref(x, w, b, st, pd, dl, g, r, act)
    y2, a2 = conv_ref_taps(x, w, b, st, pd, dl, g, osp, r, act)
    np.testing.assert_allclose(y2, y1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a2, a1, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("trial", range(6))
def test_clipped_max_reference_matches_pool_ref(trial):
    rng = np.random.default_rng(100 + trial)
    nd = 1 + trial % 3
    ks = tuple(int(k) for k in rng.integers(1, 4, nd))
    st = tuple(int(s) for s in rng.integers(1, 3, nd))
    dl = tuple(int(d) for d in rng.integers(1, 3, nd))
    pd = tuple(int(rng.integers(0, (dl[i] * (ks[i] - 1) + 1) // 2 + 1)) for i in range(nd))
    x = rng.standard_normal((2, 2) + tuple(int(v) for v in rng.integers(4, 8, nd)))
    x.reshape(-1)[::7] = np.nan
    ceil_mode = bool(trial % 2)
    want = pool_ref(x, "max", ks, st, pd, dl, ceil_mode)
    np.testing.assert_array_equal(pool_ref_clipped_max(x, ks, st, pd, dl, ceil_mode), want)


def test_clipped_max_reference_huge_kernel():
    x = np.random.default_rng(0).standard_normal((1, 2, 5))
    y = pool_ref_any(x, "max", (2**40,), (2**40,), (2**39,), (1,), False, True)
    np.testing.assert_array_equal(y, x.max(axis=-1, keepdims=True))
