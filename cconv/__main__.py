"""`python -m cconv`: a self-check and the Inception reduction demo.

GoogLeNet computes 1x1 "reductions before the expensive 3x3 and 5x5
convolutions".  A 28x28x192 input through 5x5x32 filters costs 120,422,400
multiply-adds; reducing to 16 channels with a 1x1 convolution first costs
2,408,448 + 10,035,200 = 12,443,648.  Both are computed here with cconv,
checked against a float64 SciPy reference, and timed.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from . import _core, conv2d, pack_weights, show_config


def _median_time(fn, min_time=0.2, min_reps=3):
    fn()
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < min_reps or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _scipy_conv_same(x, w, b, relu=False):
    """float64 cross-correlation, stride 1, 'same' padding, via SciPy.

    Returns the result and the same sum over |x||w| + |b| (for the bound)."""
    from scipy import signal
    K, C, R, S = w.shape
    pr, ps = R // 2, S // 2
    xp = np.pad(x[0].astype(np.float64), ((0, 0), (pr, pr), (ps, ps)))
    y = np.empty((1, K) + x.shape[2:])
    a = np.empty_like(y)
    w64 = w.astype(np.float64)
    for k in range(K):
        y[0, k] = signal.correlate(xp, w64[k], mode="valid", method="direct")[0] + b[k]
        a[0, k] = signal.correlate(np.abs(xp), np.abs(w64[k]), mode="valid",
                                   method="direct")[0] + abs(b[k])
    return (np.maximum(y, 0) if relu else y), a


def _check(name, y, ref, terms):
    """|y - ref| within the float32 bound (terms + 2) * eps * sum|x||w|."""
    exact, absum = ref
    bound = (terms + 2) * np.finfo(np.float32).eps * absum
    err = np.abs(y.astype(np.float64) - exact)
    ok = bool((err <= bound).all())
    print(f"  {name:<26} max |cconv - scipy| = {err.max():.2e}  "
          f"(bound there {bound.flat[err.argmax()]:.1e})  {'OK' if ok else 'FAIL'}")
    return ok


def main(argv=None) -> int:
    show_config()
    rng = np.random.default_rng(0)
    H = W = 28
    C, K5, Kred = 192, 32, 16
    x = rng.uniform(-1, 1, (1, C, H, W)).astype(np.float32)
    w5 = rng.uniform(-1, 1, (K5, C, 5, 5)).astype(np.float32) / np.float32(np.sqrt(C * 25))
    b5 = rng.uniform(-1, 1, K5).astype(np.float32)
    wr = rng.uniform(-1, 1, (Kred, C, 1, 1)).astype(np.float32) / np.float32(np.sqrt(C))
    br = rng.uniform(-1, 1, Kred).astype(np.float32)
    w5r = rng.uniform(-1, 1, (K5, Kred, 5, 5)).astype(np.float32) / np.float32(np.sqrt(Kred * 25))

    macs_direct = H * W * K5 * C * 5 * 5
    macs_red1 = H * W * Kred * C
    macs_red5 = H * W * K5 * Kred * 5 * 5
    print()
    print("Inception reduction demo: 28x28x192 input -> 32 channels of 5x5")
    print(f"  direct 5x5x32:                    {macs_direct:>13,} MACs")
    print(f"  1x1->16 then 5x5x32:   {macs_red1:>11,} + {macs_red5:>11,} = "
          f"{macs_red1 + macs_red5:>11,} MACs  ({macs_direct / (macs_red1 + macs_red5):.1f}x fewer)")

    p5, pr_, p5r = pack_weights(w5), pack_weights(wr), pack_weights(w5r)
    direct = lambda: conv2d(x, p5, b5, padding="same")  # noqa: E731
    reduced = lambda: conv2d(conv2d(x, pr_, br, activation="relu"), p5r, b5,  # noqa: E731
                             padding="same")
    y_direct, y_reduced = direct(), reduced()

    print("Checking against SciPy (float64):")
    ok = True
    try:
        ok &= _check("direct 5x5", y_direct, _scipy_conv_same(x, w5, b5), C * 25)
        mid = conv2d(x, pr_, br, activation="relu")
        ok &= _check("1x1 reduction + ReLU", mid, _scipy_conv_same(x, wr, br, relu=True), C)
        ok &= _check("5x5 after the reduction", y_reduced, _scipy_conv_same(mid, w5r, b5),
                     Kred * 25)
    except ImportError:
        print("  scipy is not installed: skipped")

    t_direct, t_reduced = _median_time(direct), _median_time(reduced)
    print(f"Timing ({_core.isa()} kernels, {_core.default_threads()} thread(s), median):")
    print(f"  direct 5x5x32:        {t_direct * 1e3:8.3f} ms  "
          f"{2 * macs_direct / t_direct * 1e-9:7.1f} GFLOP/s")
    print(f"  1x1->16 then 5x5x32:  {t_reduced * 1e3:8.3f} ms  "
          f"{2 * (macs_red1 + macs_red5) / t_reduced * 1e-9:7.1f} GFLOP/s  "
          f"({t_direct / t_reduced:.1f}x faster)")
    print("self-check:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
