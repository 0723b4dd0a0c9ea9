#!/usr/bin/env bash
# tools/sanitize.sh - run cconv's correctness tests under AddressSanitizer +
# UndefinedBehaviorSanitizer, and (optionally) a small driver under valgrind.
#
#   tools/sanitize.sh            # ASan+UBSan build in a temp copy, tests + fuzz
#   tools/sanitize.sh --valgrind # also valgrind --error-exitcode=1 on a plain build
#
# The tree is copied to a temporary directory and built there with
# CCONV_SANITIZE=1 (setup.py adds -fsanitize=address,undefined), so the
# working tree's own build is untouched.  A Python extension built with ASan
# needs the ASan runtime loaded first: LD_PRELOAD=libasan (+ libubsan), with
# leak detection off for the (uninstrumented) interpreter.  Any sanitizer
# report fails the run.  Environment: PYTHON (default: python3), CC (gcc),
# FUZZ_CASES (default 500), PYTEST_ARGS (extra pytest arguments).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
CCBIN=${CC:-gcc}
FUZZ_CASES=${FUZZ_CASES:-500}
VALGRIND=0
for a in "$@"; do
    case "$a" in
        --valgrind) VALGRIND=1 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $a" >&2; exit 2 ;;
    esac
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cconv-sanitize.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
echo "== copying the tree to $TMP"
tar -C "$ROOT" --exclude=.git --exclude=build --exclude='*.so' --exclude='cconv/_core.c' \
    --exclude='.pytest_cache' --exclude='__pycache__' --exclude='.hypothesis' -cf - . \
    | tar -C "$TMP" -xf -

ASAN_LIB=$("$CCBIN" -print-file-name=libasan.so)
UBSAN_LIB=$("$CCBIN" -print-file-name=libubsan.so)
if [ ! -e "$ASAN_LIB" ] || [ ! -e "$UBSAN_LIB" ]; then
    echo "libasan/libubsan not found via $CCBIN -print-file-name" >&2
    exit 2
fi

echo "== building with CCONV_SANITIZE=1 (ASan + UBSan)"
# OpenMP is required: the threaded paths are the ones most worth sanitizing
(cd "$TMP" && CC="$CCBIN" CCONV_SANITIZE=1 CCONV_REQUIRE_OPENMP=${CCONV_REQUIRE_OPENMP:-1} \
    "$PY" setup.py build_ext --inplace -j1 \
    > "$TMP/build.log" 2>&1) || { tail -40 "$TMP/build.log"; exit 1; }
grep -q "fsanitize=address,undefined" "$TMP/build.log" || { echo "not a sanitizer build" >&2; exit 1; }

LOG="$TMP/sanitize.log"
run_sanitized() {
    # halt_on_error: the first report aborts the process (a failed test run)
    env LD_PRELOAD="$ASAN_LIB $UBSAN_LIB" \
        ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:max_allocation_size_mb=3072:detect_stack_use_after_return=0" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        PYTHONMALLOC=malloc PYTHONPATH="$TMP" CCONV_SANITIZED=1 \
        "$@"
}

echo "== pytest under ASan+UBSan (correctness, SIMD and portable kernels, Winograd (2-D and stride-2), chains, errors, reliability, short fuzz)"
set +e
(cd "$TMP" && run_sanitized "$PY" -m pytest -q -p no:cacheprovider \
    tests/test_conv.py tests/test_avx2_kernels.py tests/test_portable_kernels.py \
    tests/test_winograd.py tests/test_winograd_s2.py tests/test_chain.py tests/test_pool.py tests/test_errors.py \
    tests/test_dispatch.py tests/test_fuzz.py tests/test_reliability.py ${PYTEST_ARGS:-}) 2>&1 | tee "$LOG"
rc_tests=${PIPESTATUS[0]}
echo "== fuzz driver under ASan+UBSan: $FUZZ_CASES cases per kernel set"
(cd "$TMP" && run_sanitized "$PY" tests/fuzz_driver.py --cases "$FUZZ_CASES" --seed 11) \
    2>&1 | grep -v '^Draw ' | tee -a "$LOG" | tail -3
rc_fuzz=${PIPESTATUS[0]}
(cd "$TMP" && CCONV_DISABLE_CPU_FEATURES=AVX2 run_sanitized "$PY" tests/fuzz_driver.py \
    --cases "$FUZZ_CASES" --seed 12) 2>&1 | grep -v '^Draw ' | tee -a "$LOG" | tail -3
rc_fuzz2=${PIPESTATUS[0]}
set -e
reports=$(grep -cE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$LOG" || true)
echo "== sanitizer reports: $reports; pytest exit $rc_tests; fuzz exits $rc_fuzz, $rc_fuzz2"
status=0
if [ "$reports" != "0" ] || [ "$rc_tests" != "0" ] || [ "$rc_fuzz" != "0" ] || [ "$rc_fuzz2" != "0" ]; then
    status=1
fi

if [ "$VALGRIND" = 1 ]; then
    if ! command -v valgrind > /dev/null; then
        echo "valgrind not installed" >&2; exit 2
    fi
    echo "== valgrind (memcheck) on a plain -O3 build: small driver"
    rm -rf "$TMP/build" "$TMP"/cconv/*.so
    (cd "$TMP" && "$PY" setup.py build_ext --inplace -j1 > "$TMP/build2.log" 2>&1) \
        || { tail -40 "$TMP/build2.log"; exit 1; }
    cat > "$TMP/vg_driver.py" <<'PYEOF'
import numpy as np, cconv
rng = np.random.default_rng(0)
for dt in (np.float32, np.float64):
    for nd, sp in ((1, (19,)), (2, (9, 11)), (3, (4, 5, 6))):
        x = rng.standard_normal((2, 6) + sp).astype(dt)
        w = rng.standard_normal((10, 3) + (3,) * nd).astype(dt)
        b = rng.standard_normal(10).astype(dt)
        f = getattr(cconv, f"conv{nd}d")
        y = f(x, w, b, padding=1, groups=2, activation="relu")
        f(x, cconv.pack_weights(w, 2), b, padding=1, stride=2, residual=None)
        f(x, w, b, padding="same", dilation=2, groups=2, residual=y)
        getattr(cconv, f"max_pool{nd}d")(x, 3, stride=2, padding=1, ceil_mode=True)
        getattr(cconv, f"avg_pool{nd}d")(x, 2, padding=1, count_include_pad=False)
    cconv.global_avg_pool2d(rng.standard_normal((2, 3, 5, 5)).astype(dt))
    cconv.global_max_pool2d(rng.standard_normal((2, 3, 5, 5)).astype(dt))
    cconv.relu(rng.standard_normal(1000).astype(dt))
    for bad in (lambda: cconv.conv2d(x, w, groups=3), lambda: cconv.max_pool1d(x, 0)):
        try:
            bad()
        except (ValueError, TypeError):
            pass
print("valgrind driver done")
PYEOF
    set +e
    (cd "$TMP" && PYTHONMALLOC=malloc PYTHONPATH="$TMP" OMP_NUM_THREADS=2 \
        valgrind --error-exitcode=1 --errors-for-leak-kinds=none --num-callers=30 \
        "$PY" vg_driver.py) > "$TMP/valgrind.log" 2>&1
    rc_vg=$?
    set -e
    grep -E "ERROR SUMMARY|valgrind driver done" "$TMP/valgrind.log" || true
    # The interpreter itself trips memcheck (CPython's int.from_bytes, dlopen...):
    # only error contexts with a cconv frame in their stack count.
    if ! "$PY" - "$TMP/valgrind.log" "$rc_vg" <<'PYEOF'
import re, sys
log, rc = open(sys.argv[1]).read(), int(sys.argv[2])
if "valgrind driver done" not in log:
    print("valgrind: the driver did not finish"); sys.exit(1)
blocks = re.split(r"\n==\d+== \n", log)
errs = [b for b in blocks if re.search(r"==\d+== (Invalid|Conditional|Use of uninit|Mismatched|"
                                          r"Source and destination|Syscall param|Argument)", b)]
ours = [b for b in errs if re.search(r"_core\.c|_core\.cpython|cconv_|/src/|conv_generic|"
                                     r"pool\.c|threads\.c|dispatch\.c", b)]
print(f"valgrind: exit {rc}; {len(errs)} error contexts, {len(ours)} with a cconv frame")
for b in ours[:5]:
    print(b)
sys.exit(1 if ours else 0)
PYEOF
    then
        status=1
    fi
fi
[ "$status" = 0 ] && echo "== sanitize.sh: CLEAN" || echo "== sanitize.sh: FAILED"
exit $status
