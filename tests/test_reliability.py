"""Reliability: nothing a user does may crash, hang or leak, or change the
caller's floating-point state; Python threads and fork() children get exactly
the single-threaded results; huge sizes are refused before allocating; a long
call stops on Ctrl-C within a second, and the chunking that makes this possible
never changes a bit of the result.

Children (fork, leaks, huge sizes, Ctrl-C) run in subprocesses with timeouts,
so a hang or a crash is a failure and not a dead test runner.  The `slow`
versions (pytest -m slow) run 10,000 calls per function in the leak test.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import cconv
from cconv import _core
from reference import at_offset

HERE = os.path.dirname(os.path.abspath(__file__))
CCONV_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(cconv.__file__)))
POSIX = hasattr(os, "fork")
LINUX = sys.platform.startswith("linux")
# under tools/sanitize.sh: ASan reserves terabytes of address space (no
# RLIMIT_AS) and its quarantine makes RSS grow by design
SANITIZED = "asan" in os.environ.get("LD_PRELOAD", "")


def run_child(code, timeout=120, **env):
    """Run `code` in a fresh interpreter that imports the cconv under test."""
    e = dict(os.environ, **env)
    e["PYTHONPATH"] = CCONV_ROOT + os.pathsep + e.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=e, cwd=HERE)


def last_json(r):
    assert r.returncode == 0, f"child exited {r.returncode}\n{r.stderr[-4000:]}\n{r.stdout[-2000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def rand(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------ workloads

def workloads(rng):
    """(name, thunk) pairs covering every public function, on different shapes."""
    f32, f64 = np.float32, np.float64
    x1 = rand(rng, 2, 16, 30, 30)
    w1 = rand(rng, 24, 16, 3, 3)
    b1 = rand(rng, 24)
    pw = cconv.pack_weights(w1)                   # shared by several threads
    x2 = rand(rng, 3, 12, 17, 21, dtype=f64)
    w2 = rand(rng, 12, 4, 3, 3, dtype=f64)
    x3 = rand(rng, 1, 6, 7, 8, 9)
    w3 = rand(rng, 5, 6, 2, 3, 2)
    xl = rand(rng, 4, 8, 200)
    wl = rand(rng, 10, 8, 5)
    r1 = rand(rng, 2, 24, 30, 30)
    xs = rand(rng, 4, 16, 28, 28)
    buf = np.zeros((2, 40, 28, 28), np.float32)
    items = [
        ("conv2d_3x3", lambda: cconv.conv2d(x1, w1, b1, padding=1, activation="relu")),
        ("conv2d_packed_res", lambda: cconv.conv2d(x1, pw, b1, padding="same", residual=r1)),
        ("conv2d_packed_s2", lambda: cconv.conv2d(x1, pw, stride=2)),
        ("conv2d_packed_other_x", lambda: cconv.conv2d(xs, pw, padding=1, dilation=2)),
        ("conv2d_grouped_f64", lambda: cconv.conv2d(x2, w2, groups=3, stride=(2, 1))),
        ("conv2d_out_slice", lambda: cconv.conv2d(x1, pw, padding=0, out=buf[:, 8:32]).copy()),
        ("conv1d", lambda: cconv.conv1d(xl, wl, padding=2, dilation=3)),
        ("conv3d", lambda: cconv.conv3d(x3, w3, padding=(1, 0, 1))),
        ("pack_weights", lambda: cconv.conv2d(xs, cconv.pack_weights(w1), padding=1)),
        ("max_pool2d", lambda: cconv.max_pool2d(xs, 3, stride=2, padding=1, ceil_mode=True)),
        ("avg_pool2d", lambda: cconv.avg_pool2d(x2, 2, count_include_pad=False, padding=1)),
        ("max_pool1d", lambda: cconv.max_pool1d(xl, 4, dilation=2)),
        ("avg_pool3d", lambda: cconv.avg_pool3d(x3, 2)),
        ("max_pool3d", lambda: cconv.max_pool3d(x3, (2, 3, 2), stride=1)),
        ("avg_pool1d", lambda: cconv.avg_pool1d(xl, 3, stride=2)),
        ("global_avg", lambda: cconv.global_avg_pool2d(xs)),
        ("global_max", lambda: cconv.global_max_pool2d(x2)),
        ("relu", lambda: cconv.relu(x1)),
    ]
    return items


def block_workloads(rng):
    """cconv.blocks / cconv.nn modules, when this tree has them."""
    try:
        from cconv import blocks, nn
    except ImportError:
        return []
    items = []
    try:
        x = rand(rng, 2, 32, 14, 14)
        bott = blocks.Bottleneck(32, 8, stride=1, seed=1)
        fire = blocks.Fire(32, 8, 16, 16, seed=2)
        seq = nn.Sequential(nn.Conv2d(32, 16, 3, padding=1, seed=3), nn.BatchNorm2d(16),
                            nn.ReLU(), nn.MaxPool2d(2))
        items = [("Bottleneck", lambda: bott(x)), ("Fire", lambda: fire(x)),
                 ("Sequential", lambda: seq(x))]
        for _, f in items:
            f()
    except Exception:   # noqa: BLE001 - an API in flux: test what exists
        return []
    return items


# ------------------------------------------------------------------ concurrency

def test_threads_give_single_threaded_results():
    """8 Python threads run every workload (a shared PackedWeights among them)
    at once, in different orders and thread counts: bitwise what a lone call gives."""
    rng = np.random.default_rng(0)
    items = workloads(rng) + block_workloads(rng)
    serial = {name: f() for name, f in items}
    # conv2d_out_slice writes into a buffer shared by the threads: give each its own
    barrier = threading.Barrier(8)
    errors = []
    rounds = 3

    def worker(tid):
        order = list(items)
        np.random.default_rng(tid).shuffle(order)
        try:
            barrier.wait()
            for _ in range(rounds):
                for name, f in order:
                    if name == "conv2d_out_slice":
                        continue
                    y = f()
                    if not np.array_equal(y, serial[name], equal_nan=True):
                        errors.append((tid, name))
        except Exception as e:   # noqa: BLE001
            errors.append((tid, repr(e)))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors[:10]


def test_threads_share_packed_weights_and_num_threads():
    rng = np.random.default_rng(1)
    w = rand(rng, 20, 8, 3, 3)
    pw = cconv.pack_weights(w)
    xs = [rand(rng, n, 8, h, h + 3) for n, h in [(1, 9), (2, 12), (3, 5), (1, 20),
                                                   (2, 7), (4, 6), (1, 15), (2, 10)]]
    want = [cconv.conv2d(x, w, padding=1) for x in xs]
    out = [None] * 8

    def worker(i):
        res = []
        for nt in (1, 2, None, 3):
            res.append(cconv.conv2d(xs[i], pw, padding=1, num_threads=nt))
        out[i] = res

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for i in range(8):
        assert out[i] is not None
        for y in out[i]:
            np.testing.assert_array_equal(y, want[i])


# ------------------------------------------------------------------ fork

FORK_CHILD = r"""
import json, os, sys, time, multiprocessing as mp
import numpy as np, cconv
rng = np.random.default_rng(0)
x = rng.standard_normal((4, 32, 40, 40)).astype(np.float32)
w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
pw = cconv.pack_weights(w)

def work(nt=None):
    y = cconv.conv2d(x, pw, padding=1, activation="relu", num_threads=nt)
    p = cconv.max_pool2d(y, 3, stride=2, num_threads=nt)
    a = cconv.avg_pool2d(y, 2, num_threads=nt)
    return [y, p, a, cconv.relu(x - 0.5, num_threads=nt), cconv.global_avg_pool2d(y)]

work(None)
ref = work(2)                         # the parent has run parallel regions
report = {"parent_default_threads": cconv._core.default_threads(),
          "parent_forked": cconv._core._forked_child()}

def child_body():
    ok = True
    for nt in (None, 1, 2, 4):
        got = work(nt)
        ok &= all(np.array_equal(a, b) for a, b in zip(got, ref))
    flagged = cconv._core._forked_child() or not cconv._core.openmp_enabled()
    return ok and flagged and cconv._core.default_threads() == 1

# plain os.fork(): the child must finish (libgomp hangs if it goes parallel)
t0 = time.monotonic()
results = []
for i in range(3):
    pid = os.fork()
    if pid == 0:
        os._exit(0 if child_body() else 3)
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st)
            break
        time.sleep(0.01)
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        status = "HANG"
    results.append(status)
    work(2)                           # the parent still runs parallel between forks
report["fork_status"] = results
report["fork_seconds"] = round(time.monotonic() - t0, 3)

# grandchild: a fork of a forked child is serial too and finishes
pid = os.fork()
if pid == 0:
    pid2 = os.fork()
    if pid2 == 0:
        os._exit(0 if child_body() else 3)
    _, st = os.waitpid(pid2, 0)
    os._exit(os.waitstatus_to_exitcode(st))
_, st = os.waitpid(pid, 0)
report["grandchild_status"] = os.waitstatus_to_exitcode(st)

def mp_task(i):
    got = work(None)
    return all(np.array_equal(a, b) for a, b in zip(got, ref))

t0 = time.monotonic()
ctx = mp.get_context("fork")
with ctx.Pool(2) as pool:
    res = pool.map_async(mp_task, range(6))
    report["mp_fork"] = res.get(timeout=120)
report["mp_seconds"] = round(time.monotonic() - t0, 3)
report["parent_after"] = all(np.array_equal(a, b) for a, b in zip(work(None), ref))
report["parent_forked_after"] = cconv._core._forked_child()
print(json.dumps(report))
"""


@pytest.mark.skipif(not POSIX, reason="fork() is POSIX-only")
def test_fork_children_run_and_match():
    r = run_child(FORK_CHILD, timeout=300)
    rep = last_json(r)
    print("fork:", rep)
    assert rep["fork_status"] == [0, 0, 0], rep
    assert rep["grandchild_status"] == 0, rep
    assert rep["mp_fork"] == [True] * 6, rep
    assert rep["parent_after"] and not rep["parent_forked"] and not rep["parent_forked_after"]


# ------------------------------------------------------------------ leaks

LEAK_CHILD = r"""
import gc, json, os, sys, tracemalloc
import numpy as np, cconv
N = int(sys.argv[1]) if len(sys.argv) > 1 else %d
rng = np.random.default_rng(0)
f = lambda *s: rng.standard_normal(s).astype(np.float32)
x2, w2, b2 = f(2, 8, 12, 12), f(8, 8, 3, 3), f(8)
x1, w1 = f(2, 4, 30), f(6, 4, 3)
x3, w3 = f(1, 3, 5, 6, 6), f(4, 3, 2, 2, 2)
pw = cconv.pack_weights(w2)
r2 = f(2, 8, 12, 12)
out = np.empty((2, 8, 12, 12), np.float32)
xr = f(1000)
bad = np.zeros((2, 3), np.int32)

def expect_error(fn):
    def g():
        try:
            fn()
        except (ValueError, TypeError, MemoryError):
            return
        raise AssertionError("no error")
    return g

calls = {
    "conv1d": lambda: cconv.conv1d(x1, w1, padding=1),
    "conv2d": lambda: cconv.conv2d(x2, w2, b2, padding=1, activation="relu"),
    "conv2d_packed_out_res": lambda: cconv.conv2d(x2, pw, padding=1, residual=r2, out=out),
    "conv3d": lambda: cconv.conv3d(x3, w3),
    "pack_weights": lambda: cconv.pack_weights(w2),
    "max_pool1d": lambda: cconv.max_pool1d(x1, 3),
    "max_pool2d": lambda: cconv.max_pool2d(x2, 3, stride=2, padding=1),
    "max_pool3d": lambda: cconv.max_pool3d(x3, 2),
    "avg_pool1d": lambda: cconv.avg_pool1d(x1, 2),
    "avg_pool2d": lambda: cconv.avg_pool2d(x2, 2),
    "avg_pool3d": lambda: cconv.avg_pool3d(x3, 2),
    "global_avg_pool2d": lambda: cconv.global_avg_pool2d(x2),
    "global_max_pool2d": lambda: cconv.global_max_pool2d(x2),
    "relu": lambda: cconv.relu(xr),
    "err_conv_groups": expect_error(lambda: cconv.conv2d(x2, w2, groups=3)),
    "err_conv_dtype": expect_error(lambda: cconv.conv2d(x2, w2.astype(np.float64))),
    "err_conv_out": expect_error(lambda: cconv.conv2d(x2, pw, padding=1, out=out[:, :4])),
    "err_conv_huge": expect_error(lambda: cconv.conv1d(x1, w1, padding=2**45)),
    "err_pack": expect_error(lambda: cconv.pack_weights(w2, groups=3)),
    "err_pool": expect_error(lambda: cconv.max_pool2d(x2, 3, padding=2)),
    "err_pool_dtype": expect_error(lambda: cconv.avg_pool2d(bad, 1)),
    "err_relu": expect_error(lambda: cconv.relu(x2, out=out[:1])),
    "err_threads": expect_error(lambda: cconv.relu(x2, num_threads=0)),
}

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

refs0 = {k: sys.getrefcount(v) for k, v in
         dict(x2=x2, w2=w2, pw=pw, r2=r2, out=out, x1=x1, xr=xr).items()}
report = {}
for name, fn in calls.items():
    for _ in range(200):
        fn()
    gc.collect()
    before = rss()
    for _ in range(N):
        fn()
    gc.collect()
    report[name] = {"rss_growth_kb": (rss() - before) // 1024}
# Python-object growth under tracemalloc (fewer calls: tracing is slow)
tracemalloc.start()
for name, fn in calls.items():
    for _ in range(50):
        fn()
    gc.collect()
    s0 = tracemalloc.get_traced_memory()[0]
    for _ in range(max(N // 10, 500)):
        fn()
    gc.collect()
    report[name]["traced_growth_b"] = tracemalloc.get_traced_memory()[0] - s0
tracemalloc.stop()
refs1 = {k: sys.getrefcount(v) for k, v in
         dict(x2=x2, w2=w2, pw=pw, r2=r2, out=out, x1=x1, xr=xr).items()}
print(json.dumps({"calls": N, "per_call": report, "refcounts_equal": refs0 == refs1,
                  "rss_total_mb": rss() / 2**20}))
"""


def _leak_check(n):
    r = run_child(LEAK_CHILD % n, timeout=900)
    rep = last_json(r)
    worst = max(v["rss_growth_kb"] for v in rep["per_call"].values())
    worst_traced = max(v["traced_growth_b"] for v in rep["per_call"].values())
    print(f"leaks: {n} calls each; worst RSS growth {worst} KB; worst traced growth "
          f"{worst_traced} B;", json.dumps(rep["per_call"]))
    assert rep["refcounts_equal"], "a call leaked a reference to its arguments"
    for name, v in rep["per_call"].items():
        assert v["rss_growth_kb"] < 5 * 1024, (name, v)
        # a few KB of allocator slack; one leaked object per call would be >= 16 KB
        assert v["traced_growth_b"] < 16 * 1024, (name, v)
    return rep


@pytest.mark.skipif(not LINUX or SANITIZED, reason="reads RSS from /proc; not under ASan")
def test_no_leaks_short():
    _leak_check(1000)


@pytest.mark.slow
@pytest.mark.skipif(not LINUX or SANITIZED, reason="reads RSS from /proc; not under ASan")
def test_no_leaks_10k():
    _leak_check(10_000)


# ------------------------------------------------------------------ floating-point state

FP_STATES = {
    "default": 0x1F80,
    "ftz_daz": 0x1F80 | 0x8040,
    "ftz": 0x1F80 | 0x8000,
    "daz": 0x1F80 | 0x0040,
    "round_down": 0x1F80 | 0x2000,
    "round_up": 0x1F80 | 0x4000,
    "round_zero": 0x1F80 | 0x6000,
    "ftz_daz_round_up": 0x1F80 | 0x8040 | 0x4000,
}
FLAGS = 0x3F   # MXCSR's sticky exception flags: arithmetic anywhere sets them


def _x86():
    import platform
    return platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


def fp_calls(rng):
    x = rand(rng, 2, 8, 11, 11)
    w = rand(rng, 8, 8, 3, 3)
    calls = [f for _, f in workloads(rng)]
    calls += [
        lambda: cconv.conv2d(x, w, groups=3),                         # errors
        lambda: cconv.max_pool2d(x, 5, padding=3),
        lambda: cconv.relu(x.astype(np.int32)),
        lambda: cconv.conv1d(x[0], w[:, :, 0], padding=2**44),
    ]
    return calls


@pytest.mark.skipif(not _x86(), reason="MXCSR values are x86's")
@pytest.mark.parametrize("state", list(FP_STATES))
def test_mxcsr_unchanged_by_every_call(state):
    want = FP_STATES[state]
    saved = _core._get_fpstate()
    try:
        _core._set_fpstate(want)
        assert _core._get_fpstate() & ~FLAGS == want & ~FLAGS
        for i, f in enumerate(fp_calls(np.random.default_rng(2))):
            try:
                f()
            except (ValueError, TypeError, MemoryError):
                pass
            now = _core._get_fpstate()
            assert now & ~FLAGS == want & ~FLAGS, (state, i, hex(now), hex(want))
    finally:
        _core._set_fpstate(saved)
    assert _core._get_fpstate() & ~FLAGS == saved & ~FLAGS


def test_denormals_survive_calls_in_caller_and_threads():
    """Observed without reading the register: a denormal product in NumPy stays
    denormal after cconv calls (FTZ/DAZ did not leak to the caller), both in the
    main thread and in Python threads."""
    tiny = np.float64(1e-300)

    def denormal_ok():
        d = tiny * np.float64(1e-10)                        # 1e-310: subnormal
        return d != 0 and d < np.finfo(np.float64).tiny and np.float32(1e-39) * 2 != 0

    assert denormal_ok()
    rng = np.random.default_rng(3)
    for f in fp_calls(rng):
        try:
            f()
        except (ValueError, TypeError, MemoryError):
            pass
        assert denormal_ok()
    res = []

    def thread_body():
        for f in fp_calls(np.random.default_rng(4))[:6]:
            f()
        res.append(denormal_ok())

    ts = [threading.Thread(target=thread_body) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert res == [True] * 3


def test_max_pool_sees_denormals():
    """A max over denormals is the largest denormal, not a flushed zero."""
    for dt in (np.float32, np.float64):
        d = np.finfo(dt).smallest_subnormal
        x = np.array([[[-0.0, d, -1.0, 3 * d, 0.0]]], dt)
        assert cconv.max_pool1d(x, 5)[0, 0, 0] == 3 * d
        assert cconv.global_max_pool2d(x[None])[0, 0, 0, 0] == 3 * d


# ------------------------------------------------------------------ huge sizes

HUGE_CHILD = r"""
import json, resource, sys, time
import numpy as np, cconv
with open("/proc/self/status") as fh:
    vm = next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmSize"))
# 1 GiB of address space above start-up: any real attempt to allocate a huge
# array fails fast with MemoryError instead of swapping
resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, resource.RLIM_INFINITY))
f32 = np.float32
z = lambda *s: np.zeros(s, f32)
bc = lambda *s: np.broadcast_to(np.ones((), f32), s)
cases = {
    # element counts past 2**31 / 2**32 (32-bit overflow), past 2**60 bytes, past 2**63
    "x_2^32_elems": lambda: cconv.conv2d(bc(1, 1, 2**16, 2**16 + 1), z(1, 1, 1, 1)),
    "x_2^62_elems": lambda: cconv.conv2d(bc(1, 1, 2**31, 2**31), z(1, 1, 1, 1)),
    "out_2^32_elems_pad": lambda: cconv.conv1d(z(1, 1, 5), z(1, 1, 1), padding=2**31),
    "out_2^64_elems": lambda: cconv.conv3d(z(1, 1, 1, 1, 1), z(1, 1, 1, 1, 1),
                                           padding=(2**21, 2**21, 2**21)),
    "batch_2^40": lambda: cconv.conv2d(bc(2**40, 1, 3, 3), z(2, 1, 1, 1)),
    "channels_2^33": lambda: cconv.conv2d(bc(1, 2**33, 1, 1), bc(1, 2**33, 1, 1)),
    "weight_2^62": lambda: cconv.pack_weights(bc(2**31, 2**31, 1, 1)),
    "weight_2^36": lambda: cconv.pack_weights(bc(2**20, 2**16, 1, 1)),
    "dilation_x_kernel_2^64": lambda: cconv.conv1d(z(1, 1, 5), bc(1, 1, 2**24),
                                                   dilation=2**40, stride=2**40),
    "pool_x_2^33": lambda: cconv.max_pool2d(bc(1, 2, 2**16, 2**17), 2),
    "pool_out_2^40": lambda: cconv.avg_pool1d(bc(1, 1, 2**40), 1),
    "relu_2^33": lambda: cconv.relu(bc(2**33)),
    "global_2^36": lambda: cconv.global_avg_pool2d(bc(1, 2**20, 2**8, 2**8)),
    "threads_2^31": lambda: cconv.conv2d(z(1, 1, 3, 3), z(1, 1, 1, 1), num_threads=2**31),
    "stride_2^64": lambda: cconv.conv2d(z(1, 1, 3, 3), z(1, 1, 1, 1), stride=2**64),
    "padding_-2^63": lambda: cconv.conv2d(z(1, 1, 3, 3), z(1, 1, 1, 1), padding=-2**63),
    "np_negative": lambda: cconv.max_pool2d(z(1, 1, 3, 3), np.int64(-3)),
    "groups_2^41": lambda: cconv.pack_weights(z(2, 1, 1, 1), groups=2**41),
}
out = {}
for name, fn in cases.items():
    t0 = time.perf_counter()
    try:
        fn()
        res = "returned"
    except (ValueError, MemoryError) as e:
        res = type(e).__name__
    except Exception as e:
        res = "UNDOCUMENTED " + type(e).__name__ + ": " + str(e)
    out[name] = [res, round(time.perf_counter() - t0, 4)]
print(json.dumps(out))
"""


@pytest.mark.skipif(not LINUX or SANITIZED, reason="caps the address space with RLIMIT_AS")
def test_huge_sizes_fail_cleanly():
    rep = last_json(run_child(HUGE_CHILD, timeout=300))
    print("huge:", rep)
    for name, (res, secs) in rep.items():
        assert res in ("ValueError", "MemoryError"), (name, res)
        assert secs < 5, (name, secs)      # refused, not attempted


def test_huge_windows_and_steps_are_exact():
    """Valid calls whose index arithmetic passes 2**32 or 2**64 in a naive
    implementation: huge stride/padding/dilation and mostly-padding pool windows."""
    x = np.arange(1, 6, dtype=np.float64).reshape(1, 1, 5)
    w = np.array([[[2.0, 3.0]]])
    # outputs at -2**39 and 2**40 - 2**39: both windows in the padding -> bias only
    y = cconv.conv1d(x, w, np.array([0.5]), stride=2**40, padding=2**39)
    np.testing.assert_array_equal(y, [[[0.5, 0.5]]])
    # dilation 2**40: outputs at -2**40 and 0; each sees one tap on x[0] = 1
    y = cconv.conv1d(x, w, dilation=2**40, padding=2**40, stride=2**40)
    np.testing.assert_array_equal(y, [[[3.0, 2.0]]])
    # pools: a 2**40 window that is mostly padding, in 3-D (window size 2**120)
    x3 = np.random.default_rng(0).standard_normal((1, 2, 3, 4, 5))
    t0 = time.perf_counter()
    m = cconv.max_pool3d(x3, 2**40, padding=2**39)
    a = cconv.avg_pool3d(x3, 2**40, padding=2**39)
    an = cconv.avg_pool3d(x3, 2**40, padding=2**39, count_include_pad=False)
    assert time.perf_counter() - t0 < 2
    np.testing.assert_array_equal(m[..., 0, 0, 0], x3.max(axis=(2, 3, 4)))
    size = float(2**40) ** 3
    np.testing.assert_allclose(a[..., 0, 0, 0], x3.sum(axis=(2, 3, 4)) / size, rtol=1e-12)
    np.testing.assert_allclose(an[..., 0, 0, 0], x3.mean(axis=(2, 3, 4)), rtol=1e-12)
    # zero channels with a huge group count: an empty result, no overflow
    y = cconv.conv1d(np.zeros((1, 0, 5), np.float32), np.zeros((0, 0, 1), np.float32),
                     groups=2**40)
    assert y.shape == (1, 0, 5)
    assert cconv.pack_weights(np.zeros((0, 1, 1), np.float32), groups=2**40).groups == 2**40
    # an empty weight with 2**40 output channels: nothing to pack, no 2**37-step loop
    t0 = time.perf_counter()
    empty = np.broadcast_to(np.ones((), np.float32), (2**40, 0, 1))
    assert cconv.pack_weights(empty, groups=2).shape == (2**40, 0, 1)
    assert time.perf_counter() - t0 < 2


def test_zero_d_relu_keeps_its_shape():
    for v in (np.float32(-2.0), np.array(3.0)):
        y = cconv.relu(np.asarray(v))
        assert y.shape == () and y == max(float(v), 0.0)


def _misaligned(shape, dtype=np.float32):
    """A C-contiguous array whose data starts 16 bytes past a cache line."""
    return at_offset(np.random.default_rng(0).standard_normal(shape).astype(dtype), 16)


def test_outputs_cconv_allocates_start_on_a_cache_line():
    """Every array cconv allocates for its result is 64-byte aligned, even
    from a misaligned input (numpy alone gives 16 bytes)."""
    x = _misaligned((2, 8, 11, 13))
    w = np.random.default_rng(1).standard_normal((6, 8, 3, 3)).astype(np.float32)
    w1 = np.random.default_rng(2).standard_normal((5, 8)).astype(np.float32)
    results = {
        "conv2d": cconv.conv2d(x, w, padding=1),
        "conv2d 1x1": cconv.conv2d(x, w1[:, :, None, None]),
        "conv1x1_chain": cconv.conv1x1_chain(x, [w1[:, :, None, None]]),
        "max_pool2d": cconv.max_pool2d(x, 2),
        "global_avg_pool2d": cconv.global_avg_pool2d(x),
        "relu": cconv.relu(x),
        "Fire": cconv.blocks.Fire(8, 4, 3, 5)(x),
    }
    for name, y in results.items():
        assert y.flags.c_contiguous and y.flags.writeable, name
        assert y.ctypes.data % 64 == 0, name
    # the values are those of an aligned input
    xa = np.ascontiguousarray(x.copy())
    np.testing.assert_array_equal(results["conv2d"], cconv.conv2d(xa, w, padding=1))


@pytest.mark.parametrize("shape,dtype", [((3, 5), np.float32), ((2, 1, 7), np.float64),
                                         ((), np.float32), ((0, 4), np.float64)])
@pytest.mark.parametrize("offset", [0, 16, 56])
def test_empty_aligned(shape, dtype, offset):
    a = _core.empty_aligned(shape, dtype, offset)
    assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
    assert a.flags.writeable and (a.size == 0 or a.ctypes.data % 64 == offset)
    a[...] = 1   # the whole array lies in the buffer
    assert a.base.nbytes >= a.nbytes + offset


@pytest.mark.parametrize("offset", [-1, 64])
def test_empty_aligned_rejects_offset_outside_a_line(offset):
    with pytest.raises(ValueError, match="offset"):
        _core.empty_aligned((3,), np.float32, offset)


def test_unstrided_1x1_result_starts_where_its_input_does_in_a_line():
    """An unstrided 1x1 layer whose channel planes are whole cache lines
    allocates its result as far into a line as its input starts, so both
    have their tiles on lines; every other layer's result starts on one."""
    rng = np.random.default_rng(3)
    w1 = rng.standard_normal((5, 8, 1, 1)).astype(np.float32)
    w3 = rng.standard_normal((5, 8, 3, 3)).astype(np.float32)
    for off in (0, 16, 48):
        x = at_offset(rng.standard_normal((2, 8, 4, 16)).astype(np.float32), off)
        y = cconv.conv2d(x, w1)
        assert y.ctypes.data % 64 == off and y.flags.c_contiguous
        np.testing.assert_array_equal(y, cconv.conv2d(at_offset(x, 0), w1))
        assert cconv.conv2d(x, w1, stride=2).ctypes.data % 64 == 0
        assert cconv.conv2d(x, w3, padding=1).ctypes.data % 64 == 0
        x13 = at_offset(rng.standard_normal((2, 8, 4, 13)).astype(np.float32), off)
        assert cconv.conv2d(x13, w1).ctypes.data % 64 == 0   # planes not whole lines


# ------------------------------------------------------------------ chunking and Ctrl-C

@pytest.mark.parametrize("isa", ["dispatched", "portable"])
def test_chunked_calls_are_bitwise_identical(isa, monkeypatch):
    rng = np.random.default_rng(5)
    x = rand(rng, 7, 12, 15, 14)
    w = rand(rng, 21, 4, 3, 3)
    b = rand(rng, 21)
    pw = cconv.pack_weights(w, groups=3, _isa=None if isa == "dispatched" else "portable")
    r = rand(rng, 7, 21, 15, 14)
    x1, w1 = rand(rng, 9, 5, 50, dtype=np.float64), rand(rng, 6, 5, 4, dtype=np.float64)
    x3, w3 = rand(rng, 5, 3, 6, 7, 8), rand(rng, 4, 3, 2, 2, 2)
    # a layer the AVX2 build may run with Winograd F(4x4,3x3): 3x3/s1, >= 16 channels
    xw, ww = rand(rng, 6, 16, 18, 17), rand(rng, 16, 16, 3, 3)
    pww = cconv.pack_weights(ww, _isa=None if isa == "dispatched" else "portable")
    # a 1x1 chain (fused on SIMD builds), 10 layers: two kernel calls
    wch = [rand(rng, 12, 12, 1, 1) * 0.3 for _ in range(10)]
    pch = [cconv.pack_weights(v, _isa=None if isa == "dispatched" else "portable") for v in wch]

    def run():
        buf = np.full((7, 30, 15, 14), -1.0, np.float32)
        cconv.conv2d(x, pw, b, padding=1, residual=r, activation="relu", out=buf[:, 5:26])
        return [buf,
                cconv.conv2d(x, pw, stride=2, dilation=(1, 2)),
                cconv.conv1d(x1, w1, padding=3),
                cconv.conv3d(x3, w3, padding=1),
                cconv.max_pool2d(x, 3, stride=2, padding=1),
                cconv.avg_pool3d(x3, 2, ceil_mode=True),
                cconv.global_max_pool2d(x),
                cconv.relu(x),
                cconv.conv2d(xw, pww, padding=1, activation="relu"),
                cconv.conv1x1_chain(x, pch, activation="relu")]

    whole = run()
    monkeypatch.setattr(_core, "_CHUNK_WORK", 1.0)       # one image / plane / element each
    chunked = run()
    monkeypatch.setattr(_core, "_CHUNK_WORK", 3000.0)    # a few per chunk, uneven tail
    some = run()
    for a, b_, c in zip(whole, chunked, some):
        np.testing.assert_array_equal(a, b_)
        np.testing.assert_array_equal(a, c)


INTERRUPT_CHILD = r"""
import signal, sys, time
import numpy as np, cconv
# a process started in the background by a non-interactive shell (nohup cmd &)
# inherits SIGINT ignored, and Python then leaves it ignored: Ctrl-C is what is
# tested here, so the child takes Python's usual handler whatever its parent had
signal.signal(signal.SIGINT, signal.default_int_handler)
rng = np.random.default_rng(0)
# float64 11x11 on small images: much work per byte, and no Winograd path
C, H = 32, 16
w = rng.standard_normal((C, C, 11, 11))
one = rng.standard_normal((1, C, H, H))
cconv.conv2d(one, w, padding=5, num_threads=1)
t0 = time.perf_counter()
for _ in range(3):
    cconv.conv2d(one, w, padding=5, num_threads=1)
per_image = (time.perf_counter() - t0) / 3
# a batch that takes ~8 s on one thread (at most 1536 images, 200 MB)
N = int(min(1536, max(64, 8.0 / per_image)))
x = np.ascontiguousarray(np.broadcast_to(one, (N, C, H, H)))
print(f"READY {N} {per_image:.6f}", flush=True)
t0 = time.perf_counter()
try:
    cconv.conv2d(x, w, padding=5, num_threads=1)
    print(f"FINISHED {time.perf_counter() - t0:.3f}", flush=True)
except KeyboardInterrupt:
    print(f"INTERRUPTED {time.perf_counter() - t0:.3f}", flush=True)
"""


@pytest.mark.skipif(not POSIX, reason="sends SIGINT")
def test_ctrl_c_interrupts_a_long_call():
    e = dict(os.environ)
    e["PYTHONPATH"] = CCONV_ROOT + os.pathsep + e.get("PYTHONPATH", "")
    p = subprocess.Popen([sys.executable, "-c", INTERRUPT_CHILD], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=e, cwd=HERE)
    try:
        line = p.stdout.readline()
        assert line.startswith("READY"), line + p.stderr.read()
        n_images, per_image = int(line.split()[1]), float(line.split()[2])
        time.sleep(0.5)                         # well inside the ~8 s call
        t_sig = time.monotonic()
        p.send_signal(signal.SIGINT)
        line = p.stdout.readline()
        latency = time.monotonic() - t_sig
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    print(f"interrupt: {n_images} images of {per_image * 1e3:.1f} ms; Ctrl-C honoured after "
          f"{latency * 1e3:.0f} ms ({line.strip()})")
    assert line.startswith("INTERRUPTED"), line
    assert latency < 1.0, latency
