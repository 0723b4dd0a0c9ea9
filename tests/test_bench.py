"""The benchmark runs end to end (``--quick``) and writes valid JSON.

No timing assertions: only that the sweep completes, that the numbers it
reports are consistent with each other, that cconv agreed with its peer, and
that absent peers / matplotlib / bench_blocks are reported cleanly.
"""
import json
import math
import sys

import numpy as np
import pytest

from cconv import bench
from cconv.suite import BY_NAME

SHAPES = ["fire2_sq_1x1_96to16", "fire2_ex_3x3_16to64"]


def _strict_load(path):
    def bad_constant(name):
        raise ValueError(f"non-standard JSON constant {name}")
    with open(path) as f:
        return json.loads(f.read(), parse_constant=bad_constant)


def _run(argv, tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = bench.main(argv + ["--quick", "--threads", "1", "--no-progress", "--json", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    return _strict_load(out), cap


def _has(mod):
    try:
        __import__(mod)
        return True
    except ImportError:
        return False


def test_quick_layers_end_to_end(tmp_path, capsys):
    data, cap = _run(["--shapes", ",".join(SHAPES)], tmp_path, capsys)
    meta = data["meta"]
    assert meta["suite"] == "layers" and meta["dtype"] == "float32" and meta["threads"] == 1
    assert [r["name"] for r in data["results"]] == SHAPES
    expected_peers = {"numpy"} | {p for p in ("torch", "onnxruntime") if _has(p)}
    assert set(meta["peers"]) | set(meta["skipped_peers"]) == {"numpy", "torch", "onnxruntime"}
    for r in data["results"]:
        shape = BY_NAME[r["name"]]
        assert r["macs"] == shape.macs and r["flops"] == 2 * shape.macs
        eng = r["engines"]
        assert {"cconv", "cconv_oneshot"} <= set(eng)
        for name, t in eng.items():
            assert t["median_s"] > 0 and t["min_s"] <= t["median_s"]
            assert t["q1_s"] <= t["median_s"] <= t["q3_s"]
            assert t["rounds"] >= 3 and t["calls"] >= t["rounds"]
            assert math.isclose(t["gflops"], r["flops"] / t["median_s"] / 1e9, rel_tol=1e-9)
        # NumPy's GEMM is a peer for the 1x1 layer only
        assert ("numpy" in eng) == (shape.kernel == 1)
        for peer, sp in r["speedup"].items():
            assert peer in expected_peers
            assert math.isclose(sp, eng[peer]["median_s"] / eng["cconv"]["median_s"], rel_tol=1e-9)
        assert math.isclose(r["oneshot_ratio"],
                            eng["cconv_oneshot"]["median_s"] / eng["cconv"]["median_s"], rel_tol=1e-9)
        # cconv must have computed what its peer computed
        assert r["check"]["ok"] is True, r["check"]
        ho, wo = shape.out_hw
        assert r["memory"]["output_bytes"] == shape.N * shape.K * ho * wo * 4
        assert r["memory"]["packed_bytes"] > 0
        scratch = r["memory"]["scratch"]
        assert "error" not in scratch, scratch
        assert scratch["extra_bytes"] >= 0 and scratch["method"] in ("VmHWM", "ru_maxrss")
    assert data["geomean"]["cconv_gflops"] > 0
    assert data["geomean"]["shapes_vs_numpy"] == 1
    # the table: header, one row per shape, geometric means
    for name in SHAPES:
        assert name in cap.out
    assert "geomean:" in cap.out and "GFLOP/s" in cap.out


def test_peers_skipped_cleanly_when_absent(tmp_path, capsys, monkeypatch):
    # None in sys.modules makes `import torch` raise ImportError
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    data, cap = _run(["--shapes", SHAPES[0], "--vs", "torch,onnxruntime,numpy", "--no-memory"],
                     tmp_path, capsys)
    assert set(data["meta"]["skipped_peers"]) == {"torch", "onnxruntime"}
    assert data["meta"]["peers"] == ["numpy"]
    r = data["results"][0]
    assert set(r["engines"]) == {"cconv", "cconv_oneshot", "numpy"}
    assert "peer torch skipped" in cap.err and "peer onnxruntime skipped" in cap.err
    assert "scratch" not in r["memory"]


def test_cconv_alone(tmp_path, capsys):
    data, _ = _run(["--shapes", SHAPES[1], "--vs", "none", "--no-memory"], tmp_path, capsys)
    assert data["meta"]["peers"] == []
    r = data["results"][0]
    assert set(r["engines"]) == {"cconv", "cconv_oneshot"} and r["speedup"] == {}
    # no peer: only the one-shot path is checked against the packed one
    assert r["check"]["ok"] is True and "vs" not in r["check"]


def test_float64_and_denormals(tmp_path, capsys):
    data, cap = _run(["--shapes", SHAPES[0], "--dtype", "float64", "--vs", "numpy",
                      "--no-memory", "--denormals"], tmp_path, capsys)
    assert data["meta"]["dtype"] == "float64"
    assert data["results"][0]["check"]["ok"] is True
    den = data["denormals"]
    assert den["layer"] == SHAPES[0]
    assert set(den["timings"]) == {"cconv normal", "cconv denormal"}
    assert den["slowdown"]["cconv"] > 0
    assert "denormal inputs" in cap.out


def test_f64_ratio_times_float64_alongside(tmp_path, capsys):
    """--f64-ratio: cconv float64 on the same layer, interleaved; f64/f32 is
    the ratio of the two medians, per shape and as the geomean."""
    data, cap = _run(["--shapes", SHAPES[1], "--vs", "none", "--no-memory", "--f64-ratio"],
                     tmp_path, capsys)
    r = data["results"][0]
    assert set(r["engines"]) == {"cconv", "cconv_oneshot", "cconv_float64"}
    want = r["engines"]["cconv"]["median_s"] / r["engines"]["cconv_float64"]["median_s"]
    assert r["f64_ratio"] == pytest.approx(want)
    assert data["geomean"]["f64_ratio"] == pytest.approx(want)
    assert "f64/f32" in cap.out and "float64/float32" in cap.out


def test_input_offset(tmp_path, capsys, monkeypatch):
    """--input-offset: every engine reads one input that starts that far past
    a cache line, and the run says so."""
    seen = []
    real = bench._copy_at_offset

    def spy(a, offset=0):
        out = real(a, offset)
        seen.append(out.ctypes.data % 64)
        return out

    monkeypatch.setattr(bench, "_copy_at_offset", spy)
    data, cap = _run(["--shapes", SHAPES[0], "--vs", "numpy", "--no-memory",
                      "--input-offset", "16"], tmp_path, capsys)
    assert seen == [16]
    assert data["meta"]["input_offset_bytes"] == 16
    assert data["results"][0]["check"]["ok"] is True
    assert "starts 16 bytes past a 64-byte boundary" in cap.out


def _timed_row(name, **medians):
    t = {e: bench.Timing(median=m, q1=m, q3=m, best=m, rounds=5, calls=5)
         for e, m in medians.items()}
    return bench.Row(name, macs=10**6, timings=t)


def test_summary_against_the_faster_peer():
    """Per shape the faster of PyTorch and ONNX Runtime (whichever ran); NumPy
    is not one of them."""
    rows = [_timed_row("a", cconv=1.0, cconv_oneshot=1.1, torch=2.0, onnxruntime=4.0, numpy=0.5),
            _timed_row("b", cconv=1.0, cconv_oneshot=1.0, torch=0.8, onnxruntime=0.9),
            _timed_row("c", cconv=1.0, cconv_oneshot=1.0, onnxruntime=1.25),
            _timed_row("d", cconv=1.0, cconv_oneshot=1.0, numpy=3.0)]
    gm = bench.summarize(rows, ["torch", "onnxruntime", "numpy"], None)
    assert gm["shapes_vs_faster_peer"] == 3
    assert gm["speedup_vs_faster_peer"] == pytest.approx((2.0 * 0.8 * 1.25) ** (1 / 3))
    assert gm["below_1_vs_faster_peer"] == {"b": pytest.approx(0.8)}
    assert gm["speedup_vs_torch"] == pytest.approx((2.0 * 0.8) ** 0.5)
    assert "speedup_vs_faster_peer" not in bench.summarize(rows, ["numpy"], None)


def test_time_interleaved_calls_every_engine():
    calls = {"a": 0, "b": 0}

    def mk(name, n):
        def f():
            calls[name] += 1
            return sum(range(n))
        return f

    cfg = bench.TimingConfig(min_time=0.002, min_rounds=4, slot=0.0005, max_time=1.0, warmup=2)
    res = bench.time_interleaved({"a": mk("a", 10), "b": mk("b", 2000)}, cfg)
    for name, t in res.items():
        assert t.rounds >= 4 and t.calls >= t.rounds
        assert calls[name] == t.calls + cfg.warmup
        assert 0 < t.best <= t.q1 <= t.median <= t.q3
    assert res["a"].rounds == res["b"].rounds  # round-robin: same number of rounds


def test_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "bench.png"
    _run(["--shapes", SHAPES[0], "--vs", "numpy", "--no-memory", "--plot", str(png)],
         tmp_path, capsys)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    rc = bench.main(["--quick", "--plot", str(tmp_path / "x.png")])
    assert rc == 2
    assert "needs matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("argv, msg", [
    (["--shapes", "no_such_layer"], "unknown shape"),
    (["--vs", "tensorflow"], "unknown peer"),
    (["--threads", "0"], "--threads must be >= 1"),
    (["--f64-ratio", "--dtype", "float64"], "--f64-ratio needs"),
    (["--input-offset", "64"], "--input-offset must be a multiple of 4 in [0, 64)"),
    (["--input-offset", "-4"], "--input-offset must be"),
    (["--input-offset", "4", "--dtype", "float64"], "--input-offset must be a multiple of 8"),
    (["--input-offset", "4", "--f64-ratio"], "--input-offset must be a multiple of 8"),
    (["--input-offset", "16", "--suite", "blocks"], "--input-offset needs --suite layers"),
])
def test_usage_errors(argv, msg, capsys):
    assert bench.main(["--quick"] + argv) == 2
    assert msg in capsys.readouterr().err


def test_bad_option_value_exits():
    with pytest.raises(SystemExit):
        bench.main(["--dtype", "float16"])


def test_list(capsys):
    assert bench.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in BY_NAME)


def test_blocks_suite_missing_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "cconv.bench_blocks", None)
    monkeypatch.delattr("cconv.bench_blocks", raising=False)  # set by an earlier import
    assert bench.main(["--suite", "blocks", "--quick"]) == 2
    assert "bench_blocks" in capsys.readouterr().err


def test_blocks_suite(tmp_path, capsys):
    bb = pytest.importorskip("cconv.bench_blocks")
    cases = sorted(bb.block_cases(), key=lambda c: c.macs)
    data, cap = _run(["--suite", "blocks", "--shapes", cases[0].name, "--vs", "torch"],
                     tmp_path, capsys)
    r = data["results"][0]
    assert r["name"] == cases[0].name and "cconv" in r["engines"]
    assert r["check"].get("ok") is True, r["check"]


def test_progress_fallback_without_tqdm(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    p = bench.Progress(2, enabled=True)
    assert p.bar is None
    p.label("layer_a")
    p.write("row a")
    p.step()
    p.close()
    cap = capsys.readouterr()
    assert "[1/2] layer_a" in cap.err and "row a" in cap.out


def test_geomean():
    assert bench._geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert bench._geomean([None, 3.0]) == pytest.approx(3.0)
    assert bench._geomean([None]) is None


def test_numpy_peer_matches_conv_definition():
    # the 1x1 GEMM peer (strided too) against an explicit float64 sum
    shape = bench.ConvShape("t", 2, 5, 7, 6, 3, 1, 2, 0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape.x_shape)
    w = rng.standard_normal(shape.w_shape)
    got = bench.make_numpy_1x1(shape, x, w)()
    ref = np.einsum("kc,nchw->nkhw", w[:, :, 0, 0], x[:, :, ::2, ::2])
    np.testing.assert_allclose(got.reshape(ref.shape), ref, rtol=1e-12, atol=1e-12)
    assert bench.make_numpy_1x1(BY_NAME["res2_3x3_64to64"], x, w) is None


def test_blocks_plumbing_with_stand_in_cases(tmp_path, capsys, monkeypatch):
    """--suite blocks/nets with a stand-in cases module: the bench's side of
    the block_cases()/net_cases() contract, whatever bench_blocks holds."""
    import types

    import cconv

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 8, 12, 12)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    seen = {}

    class Case:
        def __init__(self, name, ok):
            self.name, self.ok = name, ok
            self.macs = 8 * 8 * 9 * 12 * 12

        def make_cconv(self, num_threads=None):
            seen["threads"] = num_threads
            pw = cconv.pack_weights(w)
            return lambda: cconv.relu(cconv.conv2d(x, pw, padding=1, num_threads=num_threads))

        def make_torch(self, num_threads):
            return None  # "no torch equivalent": cconv alone

        def check(self):
            if not self.ok:
                raise AssertionError("mismatch")

    class Model:  # a cconv.nn-like model: threads set on the model, not the factory
        def set_num_threads(self, n):
            seen["model_threads"] = n
            return self

    class NetCase(Case):
        model = Model()

        def make_cconv(self):
            pw = cconv.pack_weights(w)
            return lambda: cconv.conv2d(x, pw, padding=1)

        def check(self):
            return 3e-7  # a relative error, as cconv.bench_blocks returns

    fake = types.ModuleType("cconv.bench_blocks")
    fake.block_cases = lambda: [Case("blk_good", True), Case("blk_bad", False)]
    fake.net_cases = lambda: [NetCase("net_a", True)]
    monkeypatch.setitem(sys.modules, "cconv.bench_blocks", fake)
    monkeypatch.setattr(cconv, "bench_blocks", fake, raising=False)

    data, cap = _run(["--suite", "blocks", "--shapes", "blk_good,blk_bad", "--vs", "torch"],
                     tmp_path, capsys)
    assert seen["threads"] == 1
    res = {r["name"]: r for r in data["results"]}
    assert res["blk_good"]["check"] == {"ok": True}
    assert res["blk_bad"]["check"]["ok"] is False and "mismatch" in res["blk_bad"]["check"]["error"]
    assert set(res["blk_good"]["engines"]) == {"cconv"}
    assert "WARNING: check failed on" in cap.out and "blk_bad" in cap.out
    data, _ = _run(["--suite", "nets"], tmp_path, capsys)
    assert [r["name"] for r in data["results"]] == ["net_a"]
    assert seen["model_threads"] == 1
    assert data["results"][0]["check"] == {"ok": True, "rel_err": 3e-7}
    assert data["meta"]["peers"] in ([], ["torch"])  # blocks/nets: PyTorch is the only peer


def test_cpu_clock(tmp_path, capsys):
    data, cap = _run(["--shapes", SHAPES[0], "--vs", "numpy", "--no-memory", "--clock", "cpu"],
                     tmp_path, capsys)
    assert data["meta"]["timing"]["clock"] == "cpu"
    for t in data["results"][0]["engines"].values():
        assert t["median_s"] == t["cpu_median_s"] and t["wall_median_s"] > 0
    assert "median cpu-clock time" in cap.out


def test_time_interleaved_rejects_unknown_clock():
    with pytest.raises(ValueError, match="clock"):
        bench.time_interleaved({"a": lambda: None}, bench.TimingConfig(clock="gpu"))
