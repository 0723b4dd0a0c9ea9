"""cconv's benchmark: times cconv against NumPy, PyTorch and ONNX Runtime.

Run ``python -m cconv.bench --help`` (or the ``cconv-bench`` console script).
For every shape of the chosen suite it prints the median time of cconv (with
pre-packed weights), its GFLOP/s and share of the measured FMA peak, the cost of
a one-shot call (raw weights, packing included) relative to the packed call,
and the speed-up of cconv over every peer that is installed; then geometric
means.  All engines of a shape are timed in one process, interleaved round-robin,
so that their ratio holds on a noisy machine.  Peers (torch, onnxruntime),
matplotlib and tqdm are optional: absent ones are skipped with a message.

See bench/README.md for what each column means and how it is measured.
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cconv.suite import LAYERS, ConvShape

PEERS = ("numpy", "torch", "onnxruntime")
ENGINE_LABELS = {
    "cconv": "cconv",
    "cconv_oneshot": "cconv one-shot",
    "cconv_float64": "cconv float64",
    "numpy": "NumPy matmul",
    "torch": "PyTorch",
    "onnxruntime": "ONNX Runtime",
}
# The shapes --quick runs when no --shapes filter is given.
QUICK_LAYERS = ("fire2_sq_1x1_96to16", "fire2_ex_3x3_16to64")
DENORMAL_LAYER = "res4_3x3_256to256"


class BenchError(Exception):
    """A usage error reported to the user (exit status 2)."""


# --------------------------------------------------------------------------
# timing


@dataclass
class TimingConfig:
    min_time: float = 0.3      # seconds of measured calls per engine, at least
    min_rounds: int = 5        # round-robin rounds, at least
    slot: float = 0.02         # an engine's calls are batched to ~this long per round
    max_time: float = 20.0     # stop adding rounds after this many seconds per shape
    warmup: int = 2            # untimed calls per engine first
    gap: float = 0.002         # idle seconds between slots (lets spinning pool threads settle)
    clock: str = "wall"        # "wall" (perf_counter) or "cpu" (process CPU time) is reported

    @classmethod
    def quick(cls) -> "TimingConfig":
        return cls(min_time=0.02, min_rounds=3, slot=0.003, max_time=2.0, warmup=1, gap=0.0)


@dataclass
class Timing:
    median: float
    q1: float
    q3: float
    best: float
    rounds: int
    calls: int
    wall_median: float = 0.0   # median per-call wall time
    cpu_median: float = 0.0    # median per-call CPU time of the process (all its threads)

    def as_dict(self) -> dict:
        return {"median_s": self.median, "q1_s": self.q1, "q3_s": self.q3, "min_s": self.best,
                "rounds": self.rounds, "calls": self.calls,
                "wall_median_s": self.wall_median, "cpu_median_s": self.cpu_median}


def time_interleaved(fns: dict[str, Callable[[], object]], cfg: TimingConfig) -> dict[str, Timing]:
    """Time zero-argument callables against each other.

    Each callable is warmed up, then the engines run round-robin (in a new
    random order each round, so that no engine always follows the same one).
    Within a round an engine runs ``k`` calls back to back, ``k`` chosen so
    that its slot lasts about ``cfg.slot`` seconds; a sample is the slot's
    time divided by ``k``.  Rounds continue until every engine has
    ``cfg.min_time`` seconds of samples and there have been ``cfg.min_rounds``
    rounds (or ``cfg.max_time`` is spent).  Returns the median of the samples
    of ``cfg.clock`` (wall or process CPU time); both medians are kept.
    """
    if cfg.clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', not {cfg.clock!r}")
    names = list(fns)
    est = {}
    for name in names:
        fn = fns[name]
        for _ in range(max(cfg.warmup - 1, 0)):
            fn()
        t0 = time.perf_counter()
        fn()
        est[name] = max(time.perf_counter() - t0, 1e-7)
    reps = {n: max(1, int(cfg.slot / est[n])) for n in names}
    samples: dict[str, list[float]] = {n: [] for n in names}
    cpu_samples: dict[str, list[float]] = {n: [] for n in names}
    total = {n: 0.0 for n in names}
    start = time.perf_counter()
    rounds = 0
    shuffle = random.Random(0).shuffle
    order = list(names)
    while True:
        shuffle(order)
        for name in order:
            fn, k = fns[name], reps[name]
            if cfg.gap > 0:
                time.sleep(cfg.gap)
            c0 = time.process_time()
            t0 = time.perf_counter()
            for _ in range(k):
                fn()
            dt = time.perf_counter() - t0
            dc = time.process_time() - c0
            samples[name].append(dt / k)
            cpu_samples[name].append(dc / k)
            total[name] += dt
        rounds += 1
        if rounds >= cfg.min_rounds:
            if all(total[n] >= cfg.min_time for n in names):
                break
            if time.perf_counter() - start > cfg.max_time:
                break
    out = {}
    for name in names:
        wall, cpu = samples[name], cpu_samples[name]
        s = sorted(wall if cfg.clock == "wall" else cpu)
        if len(s) >= 2:
            q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
        else:
            q1 = q3 = s[0]
        out[name] = Timing(statistics.median(s), q1, q3, s[0], rounds, rounds * reps[name],
                           statistics.median(wall), statistics.median(cpu))
    return out


# --------------------------------------------------------------------------
# peers


def _peer_versions() -> dict[str, str | None]:
    vers: dict[str, str | None] = {"numpy": np.__version__}
    for mod in ("torch", "onnxruntime", "onnx"):
        try:
            m = __import__(mod)
            vers[mod] = getattr(m, "__version__", "?")
        except Exception:  # noqa: BLE001 - any failure means "not usable"
            vers[mod] = None
    return vers


def load_peers(wanted: list[str], threads: int, log: Callable[[str], None]) -> tuple[dict, dict]:
    """Import the wanted peers.  Returns (available modules, {peer: why skipped})."""
    avail: dict[str, object] = {}
    skipped: dict[str, str] = {}
    for peer in wanted:
        if peer == "numpy":
            avail["numpy"] = np
        elif peer == "torch":
            try:
                import torch
            except Exception as e:  # noqa: BLE001
                skipped["torch"] = f"not installed ({type(e).__name__}: {e})"
                continue
            torch.set_num_threads(threads)
            with contextlib.suppress(RuntimeError):
                torch.set_num_interop_threads(1)
            avail["torch"] = torch
        elif peer == "onnxruntime":
            try:
                import onnxruntime
                import onnx  # noqa: F401 - needed to build the models
            except Exception as e:  # noqa: BLE001
                skipped["onnxruntime"] = f"not installed ({type(e).__name__}: {e})"
                continue
            avail["onnxruntime"] = onnxruntime
    for peer, why in skipped.items():
        log(f"note: peer {peer} skipped: {why}")
    return avail, skipped


def make_numpy_1x1(shape: ConvShape, x: np.ndarray, w: np.ndarray) -> Callable[[], np.ndarray] | None:
    """The GEMM equivalent of a 1x1 convolution: out[n] = W @ X[n]."""
    if shape.kernel != 1 or shape.pad != 0:
        return None
    s = shape.stride
    wm = np.ascontiguousarray(w.reshape(shape.K, shape.C))
    if s == 1:
        xr = x.reshape(shape.N, shape.C, shape.H * shape.W)

        def run():
            return np.matmul(wm, xr)
    else:
        def run():
            xs = x[:, :, ::s, ::s]
            return np.matmul(wm, xs.reshape(shape.N, shape.C, -1))
    return run


def make_torch(torch, shape: ConvShape, x: np.ndarray, w: np.ndarray) -> Callable[[], object]:
    xt = torch.from_numpy(x)
    wt = torch.from_numpy(w)
    conv = torch.nn.functional.conv2d
    stride, pad = shape.stride, shape.pad

    def run():
        with torch.inference_mode():
            return conv(xt, wt, None, stride, pad)
    return run


def make_onnx_model(shape: ConvShape, w: np.ndarray) -> bytes:
    """A single-Conv ONNX model with the weights as an initializer."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.FLOAT if w.dtype == np.float32 else TensorProto.DOUBLE
    ho, wo = shape.out_hw
    node = helper.make_node(
        "Conv", ["X", "W"], ["Y"],
        kernel_shape=[shape.kernel, shape.kernel],
        strides=[shape.stride, shape.stride],
        pads=[shape.pad] * 4, dilations=[1, 1], group=1)
    graph = helper.make_graph(
        [node], "conv",
        [helper.make_tensor_value_info("X", elem, list(shape.x_shape))],
        [helper.make_tensor_value_info("Y", elem, [shape.N, shape.K, ho, wo])],
        initializer=[numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def make_onnxruntime(ort, shape: ConvShape, x: np.ndarray, w: np.ndarray,
                     threads: int) -> Callable[[], object]:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle ORT workers must not spin: they would steal the cores from the
    # engine timed next in the round-robin.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    sess = ort.InferenceSession(make_onnx_model(shape, w), so, providers=["CPUExecutionProvider"])
    feed = {"X": x}

    def run():
        return sess.run(None, feed)[0]
    return run


# --------------------------------------------------------------------------
# cconv helpers


def _fma_peak(dtype: np.dtype, seconds: float, tries: int) -> tuple[float | None, float | None]:
    """Single-thread FMA peak as (peak, raw): the best of `tries` probes.

    The probe times itself by the wall clock, so on a shared machine it reads
    low when its thread is descheduled.  `peak` scales each probe by
    wall time / CPU time of the call (the share of the wall clock the probe
    actually ran), which removes that; `raw` is the probe's own figure.
    """
    from cconv import _core
    fn = getattr(_core, "fma_peak_gflops", None)
    if fn is None:
        return None, None
    for arg in (dtype, dtype.type, dtype.name):
        try:
            fn(arg, 0.01)
        except (TypeError, ValueError):
            continue
        best = raw = 0.0
        for _ in range(tries):
            w0, c0 = time.perf_counter(), time.process_time()
            g = float(fn(arg, seconds))
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            raw = max(raw, g)
            best = max(best, g * wall / cpu if 0 < cpu < wall else g)
        return best, raw
    return None, None


def _config_text() -> str:
    import cconv
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            ret = cconv.show_config()
    except Exception as e:  # noqa: BLE001 - the bench must still run
        return f"(show_config failed: {type(e).__name__}: {e})"
    text = buf.getvalue()
    if isinstance(ret, dict):
        text += "\n".join(f"{k}: {v}" for k, v in ret.items())
    elif isinstance(ret, str):
        text += ret
    return text.strip()


def _packed_nbytes(pw, w: np.ndarray) -> tuple[int, bool]:
    """Bytes held by a PackedWeights; (bytes, exact?)."""
    for attr in ("nbytes", "packed_nbytes", "size_bytes"):
        v = getattr(pw, attr, None)
        if isinstance(v, (int, np.integer)):
            return int(v), True
    return int(w.nbytes), False


_MEM_CHILD = r"""
import json, resource, sys
import numpy as np
import cconv
a = json.loads(sys.argv[1])
def status():
    d = {}
    with open('/proc/self/status') as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'VmHWM'):
                d[k] = int(v.split()[0]) * 1024
    return d
dt = np.dtype(a['dtype'])
rng = np.random.default_rng(0)
x = rng.standard_normal(a['x_shape']).astype(dt)
w = rng.standard_normal(a['w_shape']).astype(dt)
pw = cconv.pack_weights(w)
out = np.ones(a['y_shape'], dt)
# start the thread pool with a tiny call first: its stacks are not scratch
cconv.conv2d(np.ones((1, 2, 4, 4), dt), np.ones((2, 2, 3, 3), dt), num_threads=a['threads'])
method = 'VmHWM'
try:
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    base = status()['VmRSS']
except OSError:
    method = 'ru_maxrss'
    base = max(status().get('VmRSS', 0), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
cconv.conv2d(x, pw, stride=a['stride'], padding=a['pad'], out=out, num_threads=a['threads'])
if method == 'VmHWM':
    peak = status()['VmHWM']
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({'extra_bytes': max(0, peak - base), 'method': method}))
"""


def measure_scratch(shape: ConvShape, dtype: np.dtype, threads: int, timeout: float = 120.0) -> dict:
    """Peak resident memory added by one packed cconv call, in a fresh process.

    The child allocates and touches input, packed weights and output (passed
    as ``out=``), runs a tiny call to start the thread pool, resets the peak-RSS
    counter (Linux /proc/self/clear_refs) and reads it back after the call: what
    remains is scratch memory (im2col buffers, per-thread tiles) and its page
    faults.  Where the counter cannot be reset, the ru_maxrss delta is used,
    which can only under-count.
    """
    ho, wo = shape.out_hw
    args = {"dtype": dtype.name, "x_shape": list(shape.x_shape), "w_shape": list(shape.w_shape),
            "y_shape": [shape.N, shape.K, ho, wo], "stride": shape.stride, "pad": shape.pad,
            "threads": threads}
    import cconv
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(cconv.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    try:
        r = subprocess.run([sys.executable, "-c", _MEM_CHILD, json.dumps(args)], env=env,
                           capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": f"{type(e).__name__}: {e}"}
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"child exited {r.returncode}: {tail}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# suites


@dataclass
class Row:
    name: str
    macs: int
    info: dict = field(default_factory=dict)
    timings: dict[str, Timing] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    check: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def gflops(self, engine: str) -> float | None:
        t = self.timings.get(engine)
        return self.flops / t.median / 1e9 if t else None

    def speedup(self, peer: str) -> float | None:
        """time(peer) / time(cconv): above 1 means cconv is faster."""
        if peer not in self.timings or "cconv" not in self.timings:
            return None
        return self.timings[peer].median / self.timings["cconv"].median

    def f64_ratio(self) -> float | None:
        """float64 GFLOP/s / float32 GFLOP/s of the same layer (--f64-ratio)."""
        if "cconv_float64" not in self.timings or "cconv" not in self.timings:
            return None
        return self.timings["cconv"].median / self.timings["cconv_float64"].median

    def oneshot_ratio(self) -> float | None:
        if "cconv_oneshot" not in self.timings or "cconv" not in self.timings:
            return None
        return self.timings["cconv_oneshot"].median / self.timings["cconv"].median


def _check_layer(shape: ConvShape, y: np.ndarray, ref: np.ndarray, x: np.ndarray,
                 w: np.ndarray, ref_name: str) -> dict:
    """A sanity check that the engines compute the same thing (not a test:
    the tests compare against float64 references)."""
    eps = float(np.finfo(y.dtype).eps)
    terms = shape.C * shape.kernel * shape.kernel
    bound = 4.0 * eps * terms * float(np.abs(x).max()) * float(np.abs(w).max())
    ref = np.asarray(ref).reshape(y.shape)
    err = float(np.abs(y.astype(np.float64) - ref.astype(np.float64)).max())
    return {"vs": ref_name, "max_abs_err": err, "bound": bound, "ok": bool(err <= bound)}


def _copy_at_offset(a: np.ndarray, offset: int = 0) -> np.ndarray:
    """A copy of ``a`` whose data starts ``offset`` bytes past a 64-byte boundary."""
    from cconv import _core

    out = _core.empty_aligned(a.shape, a.dtype, offset)
    out[...] = a
    return out


def run_layer(shape: ConvShape, dtype: np.dtype, threads: int, peers: dict, cfg: TimingConfig,
              memory: bool, f64: bool = False, input_offset: int = 0) -> Row:
    """Time one layer; with ``f64`` (float32 only) also cconv in float64 on
    the same data, interleaved, for the float64/float32 speed ratio.  Every
    engine reads the same input, which starts ``input_offset`` bytes past a
    cache line."""
    import cconv

    rng = np.random.default_rng(0)
    # the input on a cache line, as a layer's input is when an earlier layer
    # (cconv, PyTorch or ONNX Runtime) allocated it; numpy alone gives 16 or
    # 32 bytes (--input-offset)
    x = _copy_at_offset(rng.standard_normal(shape.x_shape).astype(dtype), input_offset)
    w = rng.standard_normal(shape.w_shape).astype(dtype)
    pw = cconv.pack_weights(w)
    st, pd = shape.stride, shape.pad
    ho, wo = shape.out_hw

    fns: dict[str, Callable[[], object]] = {
        "cconv": lambda: cconv.conv2d(x, pw, stride=st, padding=pd, num_threads=threads),
        "cconv_oneshot": lambda: cconv.conv2d(x, w, stride=st, padding=pd, num_threads=threads),
    }
    if f64 and dtype == np.float32:
        x64 = _copy_at_offset(x.astype(np.float64), input_offset)
        pw64 = cconv.pack_weights(w.astype(np.float64))
        fns["cconv_float64"] = lambda: cconv.conv2d(x64, pw64, stride=st, padding=pd,
                                                    num_threads=threads)
    row = Row(shape.name, shape.macs, info={
        "N": shape.N, "C": shape.C, "H": shape.H, "W": shape.W, "K": shape.K,
        "kernel": shape.kernel, "stride": st, "pad": pd, "out_hw": [ho, wo]})
    for peer, mod in peers.items():
        try:
            if peer == "numpy":
                fn = make_numpy_1x1(shape, x, w)
                if fn is None:
                    continue  # NumPy is a peer for 1x1 layers only
            elif peer == "torch":
                fn = make_torch(mod, shape, x, w)
            else:
                fn = make_onnxruntime(mod, shape, x, w, threads)
            fn()
        except Exception as e:  # noqa: BLE001 - a peer failing must not stop the bench
            row.errors[peer] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            continue
        fns[peer] = fn

    y = np.asarray(fns["cconv"]())
    ref_name = next((p for p in ("torch", "numpy", "onnxruntime") if p in fns), None)
    if ref_name is not None:
        ref = fns[ref_name]()
        if ref_name == "torch":
            ref = ref.numpy()
        row.check = _check_layer(shape, y, ref, x, w, ref_name)
    # the one-shot path (packing inside the call) must give the packed path's result
    one = _check_layer(shape, np.asarray(fns["cconv_oneshot"]()), y, x, w, "cconv")
    row.check["oneshot_max_abs_diff"] = one["max_abs_err"]
    row.check["ok"] = row.check.get("ok", True) and one["ok"]

    row.timings = time_interleaved(fns, cfg)

    out_bytes = shape.N * shape.K * ho * wo * dtype.itemsize
    packed_bytes, exact = _packed_nbytes(pw, w)
    row.memory = {"output_bytes": out_bytes, "packed_bytes": packed_bytes,
                  "packed_bytes_exact": exact}
    if memory:
        row.memory["scratch"] = measure_scratch(shape, dtype, threads)
    return row


def _load_block_cases(suite: str) -> list:
    try:
        from cconv import bench_blocks
    except ImportError as e:
        raise BenchError(f"--suite {suite} needs cconv/bench_blocks.py, which is not available "
                         f"({e}); run --suite layers") from e
    getter = getattr(bench_blocks, "block_cases" if suite == "blocks" else "net_cases", None)
    if getter is None:
        raise BenchError(f"cconv.bench_blocks has no "
                         f"{'block_cases' if suite == 'blocks' else 'net_cases'}()")
    return list(getter())


def _params(fn: Callable) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def _call_with_threads(factory: Callable, threads: int):
    if "num_threads" in _params(factory):
        return factory(num_threads=threads)
    return factory()


def run_case(case, threads: int, peers: dict, cfg: TimingConfig) -> Row:
    """One case of the blocks/nets suite: cconv against PyTorch only."""
    row = Row(case.name, int(case.macs))
    fns = {"cconv": _call_with_threads(case.make_cconv, threads)}
    if "num_threads" not in _params(case.make_cconv):
        # cconv.nn models take their thread count from Module.set_num_threads
        model = getattr(case, "model", None)
        if hasattr(model, "set_num_threads"):
            model.set_num_threads(threads)
            row.info["cconv_threads"] = threads
        else:
            row.info["cconv_threads"] = "OpenMP default"
    if "torch" in peers:
        try:
            fn = case.make_torch(threads)
        except Exception as e:  # noqa: BLE001
            row.errors["torch"] = f"{type(e).__name__}: {e}"
            fn = None
        if fn is not None:
            fns["torch"] = fn
    if hasattr(case, "check"):
        try:
            res = case.check()
            if res is None or isinstance(res, (bool, np.bool_)):
                row.check = {"ok": True if res is None else bool(res)}
            elif isinstance(res, (int, float, np.integer, np.floating)):
                row.check = {"ok": True, "rel_err": float(res)}  # check() raises when too big
            elif isinstance(res, dict):
                row.check = {"ok": True, **res}
            else:  # returned without raising: report what it returned
                row.check = {"ok": True, "result": str(res)}
        except Exception as e:  # noqa: BLE001 - report, do not hide the timing
            row.check = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    row.timings = time_interleaved(fns, cfg)
    return row


# --------------------------------------------------------------------------
# denormals


def run_denormals(shape: ConvShape, dtype: np.dtype, threads: int, peers: dict,
                  cfg: TimingConfig) -> dict:
    """Time a layer with subnormal inputs against the same layer with normal ones."""
    import cconv

    rng = np.random.default_rng(1)
    w = rng.standard_normal(shape.w_shape).astype(dtype)
    x = rng.standard_normal(shape.x_shape).astype(dtype)
    tiny = np.finfo(dtype).tiny
    mag = rng.uniform(0.05, 0.95, shape.x_shape) * tiny
    xd = (np.where(rng.random(shape.x_shape) < 0.5, -mag, mag)).astype(dtype)
    assert np.all(np.abs(xd) < tiny) and np.all(xd != 0), "inputs are not subnormal"
    pw = cconv.pack_weights(w)
    st, pd = shape.stride, shape.pad
    fns = {
        "cconv normal": lambda: cconv.conv2d(x, pw, stride=st, padding=pd, num_threads=threads),
        "cconv denormal": lambda: cconv.conv2d(xd, pw, stride=st, padding=pd, num_threads=threads),
    }
    if "torch" in peers:
        fns["torch normal"] = make_torch(peers["torch"], shape, x, w)
        fns["torch denormal"] = make_torch(peers["torch"], shape, xd, w)
    t = time_interleaved(fns, cfg)
    res = {"layer": shape.name, "timings": {k: v.as_dict() for k, v in t.items()}, "slowdown": {}}
    for eng in ("cconv", "torch"):
        if f"{eng} normal" in t:
            res["slowdown"][eng] = t[f"{eng} denormal"].median / t[f"{eng} normal"].median
    return res


# --------------------------------------------------------------------------
# output


def _json_clean(obj):
    """Strict JSON: NaN and infinities become null, NumPy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _geomean(vals) -> float | None:
    vals = [v for v in vals if v is not None and v > 0]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


def _fmt(v, spec: str, width: int) -> str:
    return f"{'-':>{width}}" if v is None else f"{v:>{width}{spec}}"


def table_columns(peer_names: list[str], layers: bool, f64: bool = False) -> list[tuple[str, int]]:
    cols = [("shape", 28), ("GMAC", 6), ("ms", 8), ("GFLOP/s", 8), ("%peak", 6)]
    if layers:
        cols.append(("1shot/pk", 8))
    if f64:
        cols.append(("f64/f32", 7))
    cols += [(f"x{p[:5]}", 7) for p in peer_names]
    if layers:
        cols += [("out+pk MB", 9), ("scr MB", 7)]
    cols.append(("check", 5))
    return cols


def format_row(row: Row, peer_names: list[str], peak_total: float | None, layers: bool,
               f64: bool = False) -> str:
    g = row.gflops("cconv")
    cells = [f"{row.name[:28]:<28}", f"{row.macs / 1e9:>6.3f}",
             _fmt(row.timings["cconv"].median * 1e3, ".3f", 8), _fmt(g, ".1f", 8),
             _fmt(100 * g / peak_total if (g and peak_total) else None, ".1f", 6)]
    if layers:
        cells.append(_fmt(row.oneshot_ratio(), ".2f", 8))
    if f64:
        cells.append(_fmt(row.f64_ratio(), ".2f", 7))
    for p in peer_names:
        cells.append(_fmt(row.speedup(p), ".2f", 7))
    if layers:
        m = row.memory
        cells.append(_fmt((m["output_bytes"] + m["packed_bytes"]) / 2**20, ".2f", 9))
        scr = m.get("scratch", {}).get("extra_bytes")
        cells.append(_fmt(scr / 2**20 if scr is not None else None, ".2f", 7))
    chk = row.check.get("ok")
    cells.append(f"{'-' if chk is None else ('ok' if chk else 'FAIL'):>5}")
    return " ".join(cells)


def summarize(rows: list[Row], peer_names: list[str], peak_total: float | None) -> dict:
    gm = {"cconv_gflops": _geomean([r.gflops("cconv") for r in rows])}
    if peak_total:
        gm["pct_peak"] = _geomean([100 * r.gflops("cconv") / peak_total for r in rows])
    gm["oneshot_ratio"] = _geomean([r.oneshot_ratio() for r in rows])
    if any(r.f64_ratio() is not None for r in rows):
        gm["f64_ratio"] = _geomean([r.f64_ratio() for r in rows])
    for p in peer_names:
        sp = [r.speedup(p) for r in rows]
        gm[f"speedup_vs_{p}"] = _geomean(sp)
        gm[f"shapes_vs_{p}"] = sum(1 for s in sp if s is not None)
    # the targets' measure: per shape, against the faster of PyTorch and ONNX
    # Runtime (whichever of them ran)
    fast = [p for p in FASTER_PEERS if p in peer_names]
    if fast:
        per = []
        for r in rows:
            vals = [v for v in (r.speedup(p) for p in fast) if v is not None]
            if vals:
                per.append((r.name, min(vals)))
        gm["speedup_vs_faster_peer"] = _geomean([v for _, v in per])
        gm["shapes_vs_faster_peer"] = len(per)
        gm["below_1_vs_faster_peer"] = {n: v for n, v in per if v < 1.0}
    return gm


# the peers the targets are stated against (NumPy's matmul is a 1x1-only yardstick)
FASTER_PEERS = ("torch", "onnxruntime")


def make_plot(path: str, rows: list[Row], engines: list[str], title: str,
              peak: float | None = None) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # noqa: BLE001
        raise BenchError(f"--plot needs matplotlib ({type(e).__name__}: {e}); "
                         "pip install matplotlib") from e
    engines = [e for e in engines if any(e in r.timings for r in rows)]
    n = len(engines)
    width = 0.8 / max(n, 1)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.9 * len(rows) + 2), 5))
    xs = np.arange(len(rows))
    for i, eng in enumerate(engines):
        vals = [r.gflops(eng) or 0.0 for r in rows]
        ax.bar(xs + (i - (n - 1) / 2) * width, vals, width, label=ENGINE_LABELS.get(eng, eng))
    ax.set_xticks(xs)
    ax.set_xticklabels([r.name for r in rows], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("GFLOP/s")
    if peak:
        ax.axhline(peak, color="k", linestyle="--", linewidth=1,
                   label=f"FMA peak ({peak:.0f} GFLOP/s)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


class Progress:
    """tqdm when installed, else a one-line counter on stderr."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.n, self.bar = total, 0, None
        self.enabled = enabled
        if enabled:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, file=sys.stderr, unit="shape", leave=False)
            except ImportError:
                self.bar = None

    def label(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_description(name[:24])
        elif self.enabled:
            sys.stderr.write(f"\r[{self.n + 1}/{self.total}] {name:<40}")
            sys.stderr.flush()

    def step(self) -> None:
        self.n += 1
        if self.bar is not None:
            self.bar.update(1)

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            if self.enabled:
                sys.stderr.write("\r" + " " * 50 + "\r")
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            sys.stderr.write("\r" + " " * 50 + "\r")
            sys.stderr.flush()


# --------------------------------------------------------------------------
# main


def _default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cconv.bench",
        description="Time cconv's convolutions against NumPy, PyTorch and ONNX Runtime.")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for every engine (default: all CPUs available)")
    p.add_argument("--vs", default=",".join(PEERS),
                   help="comma-separated peers among torch,onnxruntime,numpy (default: all; "
                        "'none' for cconv alone)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--f64-ratio", action="store_true",
                   help="float32 layers: also time cconv in float64 on the same data, "
                        "interleaved with the float32 calls, and report f64/f32 (float64 "
                        "GFLOP/s as a fraction of float32's; one process, so noise cancels)")
    p.add_argument("--suite", choices=("layers", "blocks", "nets"), default="layers")
    p.add_argument("--shapes", default=None, help="comma-separated shape names to run")
    p.add_argument("--json", metavar="FILE", default=None, help="write all results as JSON")
    p.add_argument("--plot", metavar="FILE.png", default=None,
                   help="grouped bar chart of GFLOP/s per shape and engine (needs matplotlib)")
    p.add_argument("--quick", action="store_true",
                   help="few shapes and short timing (for tests and smoke runs)")
    p.add_argument("--denormals", action="store_true",
                   help="also time a layer with subnormal inputs against normal ones")
    p.add_argument("--no-memory", action="store_true",
                   help="skip the per-shape scratch memory measurement (a subprocess per shape)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="report wall-clock time (default) or the process's CPU time; 'cpu' "
                        "resists a busy machine for --threads 1 runs, but counts spinning "
                        "threads and misses idle waits, so it misleads with more threads")
    p.add_argument("--min-time", type=float, default=None,
                   help="seconds of timed calls per engine and shape (default 0.3)")
    p.add_argument("--input-offset", type=int, default=0, metavar="BYTES",
                   help="suite layers: every engine's input starts BYTES past a 64-byte "
                        "boundary (default 0; NumPy's own arrays start 16 or 32 bytes in)")
    p.add_argument("--list", action="store_true", help="list the shapes of the suite and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _select(items: list, names_arg: str | None, quick: bool, default_quick) -> list:
    if names_arg:
        wanted = [s.strip() for s in names_arg.split(",") if s.strip()]
        by_name = {it.name: it for it in items}
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            raise BenchError(f"unknown shape(s): {', '.join(unknown)}; "
                             f"known: {', '.join(by_name)}")
        return [by_name[n] for n in wanted]
    if quick:
        picked = [it for it in items if it.name in default_quick] if default_quick else []
        return picked or sorted(items, key=lambda it: it.macs)[:2]
    return list(items)


def run(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    import cconv

    threads = args.threads if args.threads is not None else _default_threads()
    if threads < 1:
        raise BenchError("--threads must be >= 1")
    dtype = np.dtype(args.dtype)
    wanted = [p.strip() for p in args.vs.split(",") if p.strip() and p.strip() != "none"]
    bad = [p for p in wanted if p not in PEERS]
    if bad:
        raise BenchError(f"unknown peer(s) in --vs: {', '.join(bad)}; choose from {', '.join(PEERS)}")
    layers = args.suite == "layers"
    f64 = args.f64_ratio
    if f64 and (dtype != np.float32 or not layers):
        raise BenchError("--f64-ratio needs --dtype float32 and --suite layers")
    step = np.dtype(np.float64 if f64 else dtype).itemsize
    if not 0 <= args.input_offset < 64 or args.input_offset % step:
        raise BenchError(f"--input-offset must be a multiple of {step} in [0, 64), "
                         f"got {args.input_offset}")
    if args.input_offset and not layers:
        raise BenchError("--input-offset needs --suite layers")
    if layers:
        items = _select(list(LAYERS), args.shapes, args.quick, QUICK_LAYERS)
    else:
        if "torch" not in wanted:
            print("note: --suite blocks/nets compares against PyTorch only", file=sys.stderr)
        items = _select(_load_block_cases(args.suite), args.shapes, args.quick, None)
    if args.list:
        for it in items:
            print(f"{it.name:<32} {it.macs / 1e9:8.3f} GMAC")
        return {}
    if args.plot:  # fail before the sweep, not after it
        try:
            import matplotlib  # noqa: F401
        except Exception as e:  # noqa: BLE001
            raise BenchError(f"--plot needs matplotlib ({type(e).__name__}: {e}); "
                             "pip install matplotlib") from e

    cfg = TimingConfig.quick() if args.quick else TimingConfig()
    if args.min_time is not None:
        cfg.min_time = args.min_time
    cfg.clock = args.clock

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    if not layers:
        wanted = [p for p in wanted if p == "torch"]
    peers, skipped = load_peers(wanted, threads, log)
    blas_limit = contextlib.nullcontext()
    if "numpy" in peers:
        try:
            from threadpoolctl import threadpool_limits
            blas_limit = threadpool_limits(limits=threads, user_api="blas")
        except ImportError:
            log("note: threadpoolctl not installed: NumPy's BLAS uses its own thread count")

    peak1, peak1_raw = _fma_peak(dtype, 0.05 if args.quick else 0.1, 1 if args.quick else 5)
    peak_total = peak1 * threads if peak1 else None
    vers = _peer_versions()
    config = _config_text()

    print(f"cconv {getattr(cconv, '__version__', '?')} benchmark - suite {args.suite}, "
          f"{dtype.name}, {threads} thread(s){' (quick)' if args.quick else ''}")
    for line in config.splitlines():
        print(f"  {line}")
    print(f"  peers: " + ", ".join(
        f"{p} {vers.get(p) or ''}".strip() + ("" if p in peers else " (skipped)") for p in wanted)
        if wanted else "  peers: none")
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    print(f"  python {platform.python_version()}, {platform.machine()}, "
          f"{platform.processor() or platform.platform()}, {_default_threads()} CPU(s){load}")
    if peak1:
        print(f"  FMA peak (measured): {peak1:.1f} GFLOP/s per thread x {threads} = "
              f"{peak_total:.1f} GFLOP/s"
              + (f" (probe read {peak1_raw:.1f} by the wall clock: busy machine)"
                 if peak1_raw and peak1 > 1.05 * peak1_raw else ""))
    if args.input_offset:
        print(f"  input: starts {args.input_offset} bytes past a 64-byte boundary")
    print(f"  timing: median {cfg.clock}-clock time of round-robin samples, >= {cfg.min_time:g} s and >= "
          f"{cfg.min_rounds} rounds per engine; x<peer> = peer time / cconv time "
          "(>1: cconv faster)")
    print()

    peer_names = [p for p in PEERS if p in peers]
    cols = table_columns(peer_names, layers, f64)
    header = " ".join(f"{name:<{w}}" if i == 0 else f"{name:>{w}}" for i, (name, w) in enumerate(cols))
    print(header)
    print("-" * len(header))

    rows: list[Row] = []
    seen_errors: set[tuple[str, str]] = set()
    prog = Progress(len(items), enabled=not args.no_progress and sys.stderr.isatty())
    try:
        with blas_limit:
            for it in items:
                prog.label(it.name)
                if layers:
                    row = run_layer(it, dtype, threads, peers, cfg, memory=not args.no_memory,
                                    f64=f64, input_offset=args.input_offset)
                else:
                    row = run_case(it, threads, peers, cfg)
                rows.append(row)
                prog.write(format_row(row, peer_names, peak_total, layers, f64))
                for peer, err in row.errors.items():
                    if (peer, err) not in seen_errors:  # say it once, not once per shape
                        seen_errors.add((peer, err))
                        prog.write(f"    {peer} failed on {row.name}: {err}")
                prog.step()
    finally:
        prog.close()

    gm = summarize(rows, peer_names, peak_total)
    print("-" * len(header))
    parts = [f"geomean: {gm['cconv_gflops']:.1f} GFLOP/s" if gm["cconv_gflops"] else "geomean: -"]
    if gm.get("pct_peak"):
        parts.append(f"{gm['pct_peak']:.1f}% of peak")
    if gm.get("oneshot_ratio"):
        parts.append(f"one-shot/packed {gm['oneshot_ratio']:.2f}")
    if gm.get("f64_ratio"):
        parts.append(f"float64/float32 {gm['f64_ratio']:.2f}")
    for p in peer_names:
        if gm.get(f"speedup_vs_{p}"):
            parts.append(f"x{p} {gm[f'speedup_vs_{p}']:.2f} ({gm[f'shapes_vs_{p}']} shapes)")
    print(", ".join(parts))
    if gm.get("speedup_vs_faster_peer"):
        below = gm["below_1_vs_faster_peer"]
        print(f"against the faster of {'/'.join(p for p in FASTER_PEERS if p in peer_names)} "
              f"per shape: geomean x{gm['speedup_vs_faster_peer']:.2f} "
              f"({gm['shapes_vs_faster_peer']} shapes); below 1.0: "
              + (", ".join(f"{n} {v:.2f}" for n, v in below.items()) if below else "none"))
    if layers and not args.no_memory:
        print("memory: 'out+pk MB' = output + packed-weight bytes; 'scr MB' = peak RSS added by "
              "one packed call in a fresh process (scratch).")
    busy = _geomean([r.timings["cconv"].cpu_median / r.timings["cconv"].wall_median
                     for r in rows if r.timings["cconv"].wall_median > 0])
    if threads == 1 and busy is not None and busy < 0.9:
        print(f"note: busy machine: the single-threaded cconv calls got {100 * busy:.0f}% of a core "
              "(CPU time / wall time), so wall-clock times and ratios are noisy"
              + ("; these are CPU times (--clock cpu)" if cfg.clock == "cpu"
                 else "; --clock cpu measures CPU time instead"))
    fails = [r.name for r in rows if r.check.get("ok") is False]
    if fails:
        print(f"WARNING: check failed on: {', '.join(fails)}")

    result = {
        "meta": {
            "cconv_version": getattr(cconv, "__version__", None),
            "config": config, "suite": args.suite, "dtype": dtype.name, "threads": threads,
            "quick": args.quick, "input_offset_bytes": args.input_offset,
            "fma_peak_gflops_per_thread": peak1,
            "fma_peak_gflops_per_thread_raw": peak1_raw,
            "peak_gflops": peak_total, "versions": vers, "peers": peer_names,
            "skipped_peers": skipped, "python": platform.python_version(),
            "machine": platform.machine(), "processor": platform.processor(),
            "timing": {"min_time_s": cfg.min_time, "min_rounds": cfg.min_rounds,
                       "slot_s": cfg.slot, "gap_s": cfg.gap, "warmup": cfg.warmup, "statistic": "median",
                       "clock": cfg.clock},
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "loadavg_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "results": [],
        "geomean": gm,
    }
    result["meta"]["cconv_cpu_share"] = busy
    for r in rows:
        g = r.gflops("cconv")
        result["results"].append({
            "name": r.name, "macs": r.macs, "flops": r.flops, **({"info": r.info} if r.info else {}),
            "engines": {e: {**t.as_dict(), "gflops": r.gflops(e)} for e, t in r.timings.items()},
            "speedup": {p: r.speedup(p) for p in peer_names if r.speedup(p) is not None},
            "oneshot_ratio": r.oneshot_ratio(),
            **({"f64_ratio": r.f64_ratio()} if f64 else {}),
            "pct_peak": 100 * g / peak_total if (g and peak_total) else None,
            "memory": r.memory, "check": r.check, "errors": r.errors,
        })

    if args.denormals:
        if layers:
            from cconv.suite import BY_NAME
            dshape = items[0] if (args.shapes or args.quick) else BY_NAME[DENORMAL_LAYER]
            den = run_denormals(dshape, dtype, threads, peers, cfg)
            print()
            print(f"denormal inputs ({den['layer']}): time with subnormal x / time with normal x")
            for eng, ratio in den["slowdown"].items():
                tn = den["timings"][f"{eng} normal"]["median_s"] * 1e3
                td = den["timings"][f"{eng} denormal"]["median_s"] * 1e3
                print(f"  {eng:<6} {tn:9.3f} ms -> {td:9.3f} ms   slowdown x{ratio:.2f}")
            result["denormals"] = den
        else:
            print("note: --denormals applies to --suite layers only", file=sys.stderr)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(_json_clean(result), f, indent=2, allow_nan=False)
        print(f"wrote {args.json}")
    if args.plot:
        engines = ["cconv", "cconv_oneshot"] + peer_names if layers else ["cconv"] + peer_names
        make_plot(args.plot, rows, engines,
                  f"cconv {getattr(cconv, '__version__', '')}: GFLOP/s per shape, {dtype.name}, "
                  f"{threads} thread(s) (higher is better)", peak_total)
        print(f"wrote {args.plot}")
    return result


def main(argv: list[str] | None = None) -> int:
    try:
        run(argv)
    except BenchError as e:
        print(f"cconv.bench: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
