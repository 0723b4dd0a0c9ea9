# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""cconv._core - the binding between NumPy and the C kernels in src/.

This module validates arguments, makes inputs contiguous, allocates outputs,
releases the GIL and calls C.  It does no arithmetic of its own.  Argument
meanings follow torch.nn.functional; convolution is cross-correlation.
"""
import os
import operator
from time import perf_counter

import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t, uint64_t, uintptr_t, intptr_t
from libc.string cimport memset
from cpython.exc cimport PyErr_CheckSignals
from cpython.ref cimport Py_INCREF

cnp.import_array()

cdef extern from "cconv.h":
    ctypedef enum cconv_dtype:
        CCONV_F32
        CCONV_F64
    enum:
        CCONV_ACT_NONE
        CCONV_ACT_RELU
        CCONV_OK
        CCONV_ENOMEM
        CCONV_ISA_PORTABLE
        CCONV_ISA_AVX2
        CCONV_ISA_AVX512
        CCONV_POOL_MAX
        CCONV_POOL_AVG
        CCONV_PACK_DIRECT_ONLY
        CCONV_PACK_IN_PLACE_1X1
        CCONV_PACK_WINO_RAW
    ctypedef struct cconv_wshape:
        int64_t K
        int64_t Cg
        int64_t groups
        int64_t ks[3]
        int64_t flags
    ctypedef struct cconv_conv_params:
        cconv_wshape w
        int64_t N, C
        int64_t in_ "in"[3]
        int64_t out[3]
        int64_t stride[3]
        int64_t pad[3]
        int64_t dil[3]
        int64_t x_sn, x_sc, y_sn, y_sk, r_sn, r_sk
        int activation
    ctypedef struct cconv_conv_kernels:
        const char *isa
        int64_t (*packed_size)(const cconv_wshape *ws) noexcept nogil
        void (*pack)(const cconv_wshape *ws, const void *w, void *packed, int nthreads) noexcept nogil
        int (*conv)(const cconv_conv_params *p, const void *x, const void *packed,
                    const void *bias, const void *residual, void *y, int nthreads) noexcept nogil
        int (*chain)(const cconv_chain_params *p, const void *x, void *y, int nthreads) noexcept nogil
    enum:
        CCONV_CHAIN_MAX
    ctypedef struct cconv_chain_params:
        int64_t N, P
        int nl
        int64_t C[9]
        const void *w[8]
        const void *bias[8]
        int act[8]
        int64_t x_sn, x_sc, y_sn, y_sk
    ctypedef struct cconv_pool_params:
        int64_t NC
        int64_t in_ "in"[3]
        int64_t out[3]
        int64_t ks[3]
        int64_t stride[3]
        int64_t pad[3]
        int64_t dil[3]
        int kind
        int count_include_pad

    void cconv_dispatch_init(const char *disable) nogil
    int cconv_cpu_has_avx2_fma() nogil
    int cconv_cpu_has_avx512() nogil
    int cconv_cpu_zmm_split() nogil
    int cconv_active_isa() nogil
    const char *cconv_isa_name(int isa) nogil
    const cconv_conv_kernels *cconv_conv_kernels_for(int isa, cconv_dtype dt) nogil
    const cconv_conv_kernels *cconv_conv_kernels_get(cconv_dtype dt) nogil
    int cconv_openmp_enabled() nogil
    int cconv_default_threads() nogil
    void cconv_runtime_init() nogil
    int cconv_forked_child() nogil
    uint64_t cconv_fpstate_get() nogil
    void cconv_fpstate_set(uint64_t v) nogil
    int cconv_pool(const cconv_pool_params *p, cconv_dtype dt, const void *x, void *y,
                   int nthreads) nogil
    void cconv_relu(cconv_dtype dt, const void *x, void *y, int64_t n, int nthreads) nogil
    int cconv_all_finite(cconv_dtype dt, const void *x, int64_t n) nogil
    int cconv_all_finite_mt(cconv_dtype dt, const void *x, int64_t n, int nthreads) nogil
    int cconv_select_wino_applies(cconv_dtype dt, const cconv_conv_params *p) nogil
    int64_t cconv_select_wino_block_tiles(cconv_dtype dt) nogil
    double cconv_fma_peak_gflops(cconv_dtype dt, double seconds) nogil

cdef extern from "scratch.h":
    void *cconv_scratch_alloc(size_t nbytes) nogil
    void cconv_scratch_free(void *p) nogil

_disable = os.environ.get("CCONV_DISABLE_CPU_FEATURES", "")
cconv_dispatch_init(_disable.encode("ascii", "replace"))
cconv_runtime_init()

# Calls with more work than this (multiply-adds per thread for convolutions,
# elements for pooling and relu) run in chunks along the batch (planes for
# pooling), with a check for Ctrl-C between chunks.  The first chunk holds
# about this much work; later chunks are resized to last about _CHUNK_SECONDS
# on this machine, and a last chunk of less than half that size joins the one
# before it.  Each chunk is a call of its own, which on several threads ends
# with some of them idle: counted per thread, and without the short tail,
# two threads ran 3x3/s2 128 -> 128 at 56x56 batch 2 x1.10 and 3x3 64 -> 64
# batch 8 x1.02 (paired A/B, Intel family 6 model 167; one thread x1.00).
# Each output element is computed exactly as in one call, so chunking never
# changes a result bit.  Tests may change both.
_CHUNK_WORK = 2.0e8
_CHUNK_SECONDS = 0.05

# Sizes beyond this many bytes are refused before any allocation (int64 headroom).
cdef int64_t _MAX_BYTES = (<int64_t>1) << 60

_ISAS = {"portable": CCONV_ISA_PORTABLE, "avx2": CCONV_ISA_AVX2, "avx512": CCONV_ISA_AVX512}


def isa():
    """Name of the kernel set chosen at import ('avx512', 'avx2' or 'portable')."""
    return cconv_isa_name(cconv_active_isa()).decode()


def _winograd_applies(dtype, int64_t C, int64_t K, int64_t H, int64_t W, int64_t ph, int64_t pw,
                      int64_t k=3):
    """Whether a k x k (3 or 5), stride-1, groups-1 convolution of a finite (1, C, H, W)
    image with padding (ph, pw) takes Winograd on the kernels chosen at
    import, given weights packed with their Winograd layout (cconv.nn packs
    that layout only once a call takes it)."""
    if cconv_active_isa() == CCONV_ISA_PORTABLE:
        return False
    cdef cconv_conv_params p
    memset(&p, 0, sizeof(p))
    p.w.K = K
    p.w.Cg = C
    p.w.groups = 1
    p.w.ks[0] = 1
    p.w.ks[1] = k
    p.w.ks[2] = k
    p.N = 1
    p.C = C
    p.in_[0] = 1
    p.in_[1] = H
    p.in_[2] = W
    p.out[0] = 1
    p.out[1] = H + 2 * ph - k + 1
    p.out[2] = W + 2 * pw - k + 1
    p.pad[1] = ph
    p.pad[2] = pw
    for i in range(3):
        p.stride[i] = 1
        p.dil[i] = 1
    if p.out[1] < 1 or p.out[2] < 1:
        return False
    return bool(cconv_select_wino_applies(_dtype_code(np.dtype(dtype), "dtype"), &p))


def _wino_block_tiles(dtype):
    """4x4 tiles per block of the Winograd kernels (each block transforms raw
    weights again); 0 on a build without them."""
    return int(cconv_select_wino_block_tiles(_dtype_code(np.dtype(dtype), "dtype")))


def cpu_has_avx2():
    """Whether this CPU and OS can run the AVX2/FMA kernels."""
    return bool(cconv_cpu_has_avx2_fma())


def cpu_has_avx512():
    """Whether this CPU and OS can run the AVX-512 kernels."""
    return bool(cconv_cpu_has_avx512())


def cpu_zmm_split():
    """Whether this CPU runs AVX-512 multiply-adds at the AVX2 rate, as two
    256-bit halves (AMD Zen 4): there the AVX-512 kernel set runs the
    stride-2 Winograd path in ymm (AVX2 code), elsewhere in zmm."""
    return bool(cconv_cpu_zmm_split())


def openmp_enabled():
    """Whether the kernels were built with OpenMP."""
    return bool(cconv_openmp_enabled())


def default_threads():
    """What num_threads=None means right now (OMP_NUM_THREADS or all cores)."""
    return cconv_default_threads()


def _forked_child():
    """Whether this process is a fork() child of the one that imported cconv
    (there every kernel runs on one thread: libgomp does not survive fork)."""
    return bool(cconv_forked_child())


def _get_fpstate():
    """The calling thread's FP control register (x86 MXCSR, aarch64 FPCR)."""
    return cconv_fpstate_get()


def _set_fpstate(uint64_t v):
    """Set the calling thread's FP control register (tests only)."""
    cconv_fpstate_set(v)


_get_mxcsr = _get_fpstate


cdef int64_t _chunk_step(int64_t n, double work_per_item):
    """How many of n items (images, planes) one chunk holds."""
    if n <= 1 or work_per_item * n <= _CHUNK_WORK:
        return n if n > 0 else 1
    cdef double k = _CHUNK_WORK / work_per_item if work_per_item > 0 else <double>n
    if k < 1:
        return 1
    if k >= n:
        return n
    return <int64_t>k


cdef int64_t _next_step(int64_t step, double seconds):
    """Resize a chunk that took `seconds` towards _CHUNK_SECONDS."""
    cdef double target = _CHUNK_SECONDS
    if seconds > 2 * target:
        step = <int64_t>(step * target / seconds)
    elif seconds < target / 4 and step < (<int64_t>1 << 40):
        step *= 2
    return step if step > 1 else 1


# One chunk of a big call: items [i0, i0 + cnt) (images, planes, elements)
ctypedef int (*_chunk_fn)(void *ctx, int64_t i0, int64_t cnt) noexcept nogil


cdef int _in_chunks(_chunk_fn fn, void *ctx, int64_t n, double work_per_item) except -1:
    """fn(ctx, i0, cnt) over n items, chunk by chunk with the GIL released
    (sized by _chunk_step / _next_step), checking for Ctrl-C in between.
    Returns the first return code other than CCONV_OK, else CCONV_OK."""
    cdef int64_t i0 = 0, cnt
    cdef int64_t step = _chunk_step(n, work_per_item)
    cdef int rc = CCONV_OK
    if n <= 0:
        return rc
    if step >= n:   # one chunk (most calls): no clock to read
        with nogil:
            rc = fn(ctx, 0, n)
        return rc
    while i0 < n:
        cnt = step if n - i0 > step else n - i0
        if n - i0 - cnt < (step + 1) // 2:   # the rest with it: no short tail
            cnt = n - i0
        t_chunk = perf_counter()
        with nogil:
            rc = fn(ctx, i0, cnt)
        if rc != CCONV_OK:
            return rc
        i0 += cnt
        if i0 < n:
            PyErr_CheckSignals()
            step = _next_step(step, perf_counter() - t_chunk)
    return rc


ctypedef struct _conv_job:
    const cconv_conv_kernels *kern
    cconv_conv_params p
    const char *x
    const char *r
    char *y
    const void *w
    const void *b
    int64_t isz
    int nt


cdef int _conv_chunk(void *ctx, int64_t n0, int64_t cnt) noexcept nogil:
    """Images [n0, n0 + cnt): the pointers move by whole images, so every
    output is computed as in one call."""
    cdef _conv_job *j = <_conv_job *>ctx
    cdef cconv_conv_params q = j.p
    q.N = cnt
    return j.kern.conv(&q, j.x + n0 * q.x_sn * j.isz, j.w, j.b,
                       j.r + n0 * q.r_sn * j.isz if j.r != NULL else NULL,
                       j.y + n0 * q.y_sn * j.isz, j.nt)


ctypedef struct _chain_job:
    const cconv_conv_kernels *kern
    cconv_chain_params p
    const char *x
    char *y
    int64_t isz
    int nt


cdef int _chain_chunk(void *ctx, int64_t n0, int64_t cnt) noexcept nogil:
    cdef _chain_job *j = <_chain_job *>ctx
    cdef cconv_chain_params q = j.p
    q.N = cnt
    return j.kern.chain(&q, j.x + n0 * q.x_sn * j.isz, j.y + n0 * q.y_sn * j.isz, j.nt)


ctypedef struct _pool_job:
    cconv_pool_params p
    cconv_dtype dt
    const char *x
    char *y
    int64_t in_plane, out_plane, isz
    int nt


cdef int _pool_chunk(void *ctx, int64_t c0, int64_t cnt) noexcept nogil:
    """Planes (image, channel) [c0, c0 + cnt)."""
    cdef _pool_job *j = <_pool_job *>ctx
    cdef cconv_pool_params q = j.p
    q.NC = cnt
    return cconv_pool(&q, j.dt, j.x + c0 * j.in_plane * j.isz, j.y + c0 * j.out_plane * j.isz, j.nt)


ctypedef struct _relu_job:
    cconv_dtype dt
    const char *x
    char *y
    int64_t isz
    int nt


cdef int _relu_chunk(void *ctx, int64_t i0, int64_t cnt) noexcept nogil:
    cdef _relu_job *j = <_relu_job *>ctx
    cconv_relu(j.dt, j.x + i0 * j.isz, j.y + i0 * j.isz, cnt, j.nt)
    return CCONV_OK


def fma_peak_gflops(dtype=np.float32, double seconds=0.2):
    """Measured single-thread FMA throughput in GFLOP/s for `dtype`."""
    cdef cconv_dtype dt = _dtype_code(np.dtype(dtype), "dtype")
    cdef double r
    with nogil:
        r = cconv_fma_peak_gflops(dt, seconds)
    return r


# ---------------------------------------------------------------- validation

cdef cconv_dtype _dtype_code(object dt, str name) except *:
    if dt == np.float32:
        return CCONV_F32
    if dt == np.float64:
        return CCONV_F64
    raise TypeError(f"{name}: unsupported dtype {dt}; cconv computes in float32 or float64")


cdef inline cconv_dtype _float_array_code(cnp.ndarray a) noexcept:
    """The dtype code of an array _as_float_array has let through."""
    return CCONV_F32 if cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT else CCONV_F64


cpdef _as_float_array(obj, str name):
    """obj as an ndarray of float32/float64 (no casts), else TypeError naming it."""
    cdef int t
    if isinstance(obj, cnp.ndarray) and not cnp.PyArray_ISBYTESWAPPED(<cnp.ndarray>obj):
        t = cnp.PyArray_TYPE(<cnp.ndarray>obj)
        if t == cnp.NPY_FLOAT or t == cnp.NPY_DOUBLE:   # the common case, checks below
            return obj
    if isinstance(obj, PackedWeights):
        raise TypeError(f"{name}: PackedWeights are accepted only as the weight")
    arr = obj if isinstance(obj, np.ndarray) else np.asarray(obj)
    if arr.dtype != np.float32 and arr.dtype != np.float64:
        raise TypeError(f"{name}: unsupported dtype {arr.dtype}; expected float32 or float64 "
                        "(cconv does not cast silently)")
    return arr


cpdef _int_arg(v, str name, int minimum):
    if type(v) is int and minimum <= v <= (1 << 40):   # the common case, checks below
        return v
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {v!r}")
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{name} must be an integer or a tuple of integers, got {v!r}") from None
    if i < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {i}")
    if i > (1 << 40):
        raise ValueError(f"{name} is too large: {i}")
    return int(i)


cpdef tuple _tuple_arg(v, int nd, str name, int minimum):
    """An int or a length-nd sequence of ints, each >= minimum."""
    if isinstance(v, (tuple, list)):
        if len(v) != nd:
            raise ValueError(f"{name} must have {nd} element(s), got {len(v)}: {v!r}")
        return tuple([_int_arg(e, name, minimum) for e in v])
    return (_int_arg(v, name, minimum),) * nd


cpdef _threads_arg(num_threads):
    if num_threads is None:
        return 0
    n = _int_arg(num_threads, "num_threads", 1)
    if n > _MAX_THREADS:
        raise ValueError(f"num_threads is too large: {n} (at most {_MAX_THREADS})")
    return n


# More threads than this cannot be meant (and would not fit a C int).
_MAX_THREADS = 1 << 16


cpdef _check_size(shape, itemsize, str name):
    total = itemsize
    for s in shape:
        total *= s
    if total > _MAX_BYTES:
        raise ValueError(f"{name}: shape {tuple(shape)} is too large ({total} bytes)")


# Outputs cconv allocates start on a cache line: a 64-byte vector store then
# never straddles two lines.  numpy's allocator gives 16-byte alignment, and
# a 1x1 layer writing to a misaligned output ran 5-17 % slower (paired A/B,
# 64 -> 256 at 56x56: x0.83).
cdef enum:
    _ALIGN = 64


cdef extern from "numpy/arrayobject.h":
    object _PyArray_NewFromDescr "PyArray_NewFromDescr" (
        void *subtype, cnp.dtype descr, int nd, cnp.npy_intp *dims, cnp.npy_intp *strides,
        void *data, int flags, void *obj)


cpdef empty_aligned(shape, dtype, Py_ssize_t offset=0):
    """An uninitialised C-contiguous array like numpy.empty(shape, dtype)
    whose data starts on a 64-byte boundary, or ``offset`` bytes past one
    (0 <= offset < 64; a view of a slightly larger buffer)."""
    if not 0 <= offset < _ALIGN:
        raise ValueError(f"offset must be in [0, {_ALIGN}), got {offset}")
    cdef cnp.dtype dt = np.dtype(dtype)
    cdef cnp.npy_intp dims[32]
    cdef int nd = 0
    for s in shape:
        if nd == 32:
            raise ValueError(f"shape has more than 32 dimensions: {shape}")
        if s < 0:
            raise ValueError(f"negative dimensions are not allowed: {shape}")
        dims[nd] = s
        nd += 1
    return _empty_aligned_descr(nd, dims, dt, offset)


cdef cnp.ndarray _empty_aligned_descr(int nd, cnp.npy_intp *dims, cnp.dtype dt,
                                      Py_ssize_t offset):
    """empty_aligned for nd >= 0 dimensions dims[] (each >= 0) and offset in [0, 64)."""
    cdef Py_ssize_t n = dt.itemsize
    cdef int i
    for i in range(nd):
        n *= dims[i]
    cdef cnp.npy_intp total = n + _ALIGN + offset
    # built in C, not by slicing and viewing (2.1 -> 0.8 us a call: a cost on
    # every convolution that allocates its result)
    cdef cnp.ndarray buf = cnp.PyArray_EMPTY(1, &total, cnp.NPY_UINT8, 0)
    cdef char *data = <char *>cnp.PyArray_DATA(buf)
    data += ((-<Py_ssize_t><uintptr_t>data) & (_ALIGN - 1)) + offset
    Py_INCREF(dt)  # PyArray_NewFromDescr steals a reference to the descriptor
    cdef cnp.ndarray arr = _PyArray_NewFromDescr(
        <void *>np.ndarray, dt, nd, dims, NULL, data, cnp.NPY_ARRAY_CARRAY, NULL)
    cnp.set_array_base(arr, buf)
    return arr


cdef inline Py_ssize_t _line_offset(cnp.ndarray arr):
    """How many bytes past a 64-byte boundary arr's data starts."""
    return <Py_ssize_t>(<uintptr_t>cnp.PyArray_DATA(arr) & (_ALIGN - 1))


cdef inline Py_ssize_t _plane_bytes(cnp.ndarray arr):
    """Bytes of one channel plane of an (N, C, *spatial) array."""
    cdef Py_ssize_t n = cnp.PyArray_ITEMSIZE(arr)
    cdef int ax
    for ax in range(2, cnp.PyArray_NDIM(arr)):
        n *= cnp.PyArray_DIMS(arr)[ax]
    return n


cpdef bint _spatial_contiguous(cnp.ndarray arr, int nspatial) except -1:
    """True when the last nspatial axes of arr are C-contiguous (always for
    an empty array: it has no elements to lay out).  Read in C: every call
    asks this of its arrays, and the Python attributes cost a microsecond."""
    cdef int nd = cnp.PyArray_NDIM(arr), ax
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(arr)
    cdef cnp.npy_intp *strides = cnp.PyArray_STRIDES(arr)
    if cnp.PyArray_SIZE(arr) == 0:
        return True
    cdef cnp.npy_intp expect = cnp.PyArray_ITEMSIZE(arr)
    for ax in range(nd - 1, max(nd - 1 - nspatial, -1), -1):
        if dims[ax] != 1 and strides[ax] != expect:
            return False
        expect *= dims[ax]
    return True


def _self_overlapping(arr):
    """True when distinct indices of arr may address the same memory."""
    dims = sorted((abs(st), sh) for st, sh in zip(arr.strides, arr.shape) if sh > 1)
    extent = arr.itemsize
    for st, sh in dims:
        if st < extent:
            return True
        extent = st * (sh - 1) + extent
    return False


cpdef _check_out(out, shape, dtype, int nspatial, inputs, str name="out"):
    """Validate an `out` (or residual-like) array; return it."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype}; expected {np.dtype(dtype)}")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(out.shape)}; expected {tuple(shape)}")
    if not cnp.PyArray_ISWRITEABLE(out):
        raise ValueError(f"{name} is read-only")
    if not cnp.PyArray_IS_C_CONTIGUOUS(out):   # a C-contiguous array passes the three layout checks
        if not _spatial_contiguous(out, nspatial):
            raise ValueError(f"{name}: its spatial dimensions must be C-contiguous "
                             "(batch and channel strides may be anything)")
        if any([st % out.itemsize for st in out.strides]):
            raise ValueError(f"{name}: strides must be multiples of the item size")
        if out.size and _self_overlapping(out):
            raise ValueError(f"{name}: its elements overlap each other")
    seen = set()
    for other, oname in inputs:
        if other is None or id(other) in seen:
            continue
        seen.add(id(other))
        if out.size and other.size and _overlap(out, other):
            raise ValueError(f"{name} overlaps {oname}")
    return out


cdef bint _extent(cnp.ndarray a, intptr_t *lo, intptr_t *hi):
    """The bytes [lo, hi) a's elements lie in; False when a is empty."""
    cdef int i
    cdef intptr_t l = <intptr_t>cnp.PyArray_DATA(a), h, d, st
    h = l
    for i in range(cnp.PyArray_NDIM(a)):
        d = cnp.PyArray_DIMS(a)[i]
        if d == 0:
            return False
        st = cnp.PyArray_STRIDES(a)[i]
        if st > 0:
            h += st * (d - 1)
        else:
            l += st * (d - 1)
    lo[0] = l
    hi[0] = h + cnp.PyArray_ITEMSIZE(a)
    return True


cpdef bint _overlap(a, b) except -1:
    """Whether a and b share memory: a bounds test first (in C), the exact
    answer only when the bounds meet (e.g. channel slices of one buffer)."""
    cdef intptr_t alo, ahi, blo, bhi
    if not _extent(a, &alo, &ahi) or not _extent(b, &blo, &bhi):
        return False
    if ahi <= blo or bhi <= alo:
        return False
    return np.shares_memory(a, b)


cpdef int64_t _elem_stride(cnp.ndarray arr, int axis) except? -1:
    """arr's stride along axis in elements (0 for an axis of length 1)."""
    if axis < 0 or axis >= cnp.PyArray_NDIM(arr):
        raise IndexError(f"axis {axis} out of range for {cnp.PyArray_NDIM(arr)} dimensions")
    if cnp.PyArray_DIMS(arr)[axis] <= 1:
        return 0
    return cnp.PyArray_STRIDES(arr)[axis] // cnp.PyArray_ITEMSIZE(arr)


# ---------------------------------------------------------------- packed weights

cdef class PackedWeights:
    """Convolution weights packed once into the blocked layout of the kernels
    chosen at import.  Pass it to conv1d/conv2d/conv3d in place of the weight
    array to skip the packing on every call.  Immutable."""
    cdef void *buf
    cdef const void *data      # what the kernels read: buf, or the weights in place
    cdef object _in_place      # the contiguous weights `data` points into, or None
    cdef cconv_wshape ws
    cdef const cconv_conv_kernels *kern
    cdef readonly tuple shape
    cdef readonly object dtype
    cdef readonly int64_t groups
    cdef readonly str isa
    cdef readonly int64_t nbytes
    cdef cconv_dtype dt

    def __cinit__(self):
        self.buf = NULL

    def __dealloc__(self):
        if self.buf != NULL:
            cconv_scratch_free(self.buf)
            self.buf = NULL

    def __init__(self, weight, groups=1, *, num_threads=None, _isa=None, _direct_only=False,
                 _in_place_1x1=False, _wino_raw=False):
        w = _as_float_array(weight, "weight")
        if w.ndim < 3 or w.ndim > 5:
            raise ValueError(f"weight must have 3 to 5 dimensions (K, C/groups, *kernel), "
                             f"got shape {w.shape}")
        g = _int_arg(groups, "groups", 1)
        cdef int nt = _threads_arg(num_threads)
        K = w.shape[0]
        if K % g:
            raise ValueError(f"groups={g} does not divide the weight's {K} output channels")
        _check_size(w.shape, w.itemsize, "weight")
        w = np.ascontiguousarray(w)
        self.dt = _dtype_code(w.dtype, "weight")
        isa_code = cconv_active_isa() if _isa is None else _ISAS[_isa]
        self.kern = cconv_conv_kernels_for(isa_code, self.dt)
        self.ws.K = K
        self.ws.Cg = w.shape[1]
        self.ws.groups = g
        ks = (1,) * (5 - w.ndim) + tuple(w.shape[2:])
        for i in range(3):
            self.ws.ks[i] = ks[i]
        # Transformed (Winograd) weights mix taps: non-finite weights stay direct-only so
        # NaN/Inf propagate exactly as IEEE arithmetic says.  Only 3x3 and 5x5 weights
        # with one group can be transformed, so only they are scanned (the scan cost a 1x1
        # 1024 -> 256 pack a third of its time).
        self.ws.flags = 0
        cdef cnp.ndarray wc = w
        cdef const void *wp = <const void *>cnp.PyArray_DATA(wc)
        cdef int64_t wn = w.size
        cdef int finite = 1
        if not _direct_only and ks in ((1, 3, 3), (1, 5, 5)) and g == 1:
            with nogil:
                finite = cconv_all_finite_mt(self.dt, wp, wn, nt)
        if _direct_only or not finite:
            self.ws.flags |= CCONV_PACK_DIRECT_ONLY
        # A one-shot unpadded 1x1 call: the SIMD kernels read the weights where
        # they are (packing them would touch each weight once for one use)
        self._in_place = None
        if _in_place_1x1 and ks == (1, 1, 1) and isa_code != CCONV_ISA_PORTABLE:
            self.ws.flags |= CCONV_PACK_IN_PLACE_1X1
            self._in_place = w
        # A one-shot call on images with few tiles: Winograd transforms each chunk of
        # output channels where it runs it, from the raw weights (no packed bytes)
        if (_wino_raw and not (self.ws.flags & CCONV_PACK_DIRECT_ONLY)
                and ks in ((1, 3, 3), (1, 5, 5)) and isa_code != CCONV_ISA_PORTABLE):
            self.ws.flags |= CCONV_PACK_WINO_RAW
            self._in_place = w
        self.shape = tuple(w.shape)
        self.dtype = w.dtype
        self.groups = g
        self.isa = self.kern.isa.decode()
        self.nbytes = self.kern.packed_size(&self.ws)
        self.buf = cconv_scratch_alloc(<size_t>self.nbytes)
        if self.buf == NULL:
            raise MemoryError(f"cannot allocate {self.nbytes} bytes for packed weights")
        cdef bint empty = wn == 0
        self.data = wp if self._in_place is not None else self.buf
        # nothing to pack for empty weights (a huge `groups` would loop for
        # nothing) or for weights read in place
        if not empty and self._in_place is None:
            with nogil:
                self.kern.pack(&self.ws, wp, self.buf, nt)

    @property
    def ndim(self):
        return len(self.shape)

    def _packed_bytes(self):
        """A copy of the packed bytes (for tests: the layout is private)."""
        if self._in_place is not None:
            return b""
        return (<char *>self.buf)[:self.nbytes]

    def __repr__(self):
        return (f"PackedWeights(shape={self.shape}, dtype={self.dtype}, groups={self.groups}, "
                f"isa='{self.isa}')")

    def __reduce__(self):
        raise TypeError("PackedWeights cannot be pickled; pickle the weight array and repack")


def pack_weights(weight, groups=1, *, num_threads=None, _isa=None):
    """Pack convolution weights (K, C/groups, *kernel) once for repeated calls.

    The result is accepted by conv1d/conv2d/conv3d in place of `weight`.
    The layout is private to the kernels chosen at import (for 3x3 weights
    on AVX2/AVX-512 it includes Winograd-transformed weights).  `num_threads`
    as for conv2d (None: OMP_NUM_THREADS or all cores); large weights pack in
    parallel, and the packed bytes never depend on it."""
    return PackedWeights(weight, groups, num_threads=num_threads, _isa=_isa)


# A one-shot call (raw weights) packs on every call.  Transforming 3x3 weights
# for Winograd costs about as much as Winograd saves on this many 4x4 output
# tiles, so smaller problems pack for the direct kernel only.
_ONESHOT_WINOGRAD_MIN_TILES = 48
# The same for 5x5 weights and 2x2 output tiles (F(2x2,5x5)).  One-shot, packing
# included, against packing for the direct kernel, Zen 3, one thread: 192 -> 32
# at 28x28 (196 tiles) x1.48, 32 -> 96 x1.58, 64 -> 128 at 10x10 (25) x1.06,
# 32 -> 128 at 14x14 (49) x1.01, 48 -> 128 at 7x7 (16) x0.92.
_ONESHOT_WINOGRAD5_MIN_TILES = 25
# Fewer 4x4 tiles (all images) than _ONESHOT_WINOGRAD_MIN_TILES but at least this
# many an image, and all within one tile block (_wino_block_tiles: 32 float32
# tiles, 16 float64): Winograd from the raw weights, each chunk of output
# channels transformed where it runs (CCONV_PACK_WINO_RAW), no whole transform
# written out.  One-shot against one-shot direct, Zen 3, one / two threads: 3x3 at
# 14x14 (16 tiles) 256 -> 256 x1.48 / x1.50, 512 -> 512 x1.60 / x1.43, 128 -> 128
# x1.54 / x1.69, 64 -> 64 x1.55 / x1.79, 1024 -> 256 x1.40 / x1.13; 12x12 (9 tiles)
# 256 -> 256 x1.11 / x1.16, but 10x10 (9) x0.89 / x0.93, 7x7 (4) x0.88.
_ONESHOT_WINO_RAW_MIN_TILES = 16
# With two threads or more, raw weights also serve a call of two tile blocks (each
# transforms the weights again): the two transforms run side by side, each on the
# thread whose tiles use it, where the whole packed transform is written by both
# threads and read back across them.  One-shot, raw against packed, Intel family 6
# model 167, two threads: 3x3 at 28x28 (49 tiles) 96 -> 128 x1.29, 64 -> 64 x1.28,
# 32 -> 32 x1.51, 256 -> 256 x1.09, 512 -> 512 x1.03, 128 -> 128 at 32x32 x1.16;
# one thread x0.80-1.01, so one thread keeps one block.
_ONESHOT_WINO_RAW_MAX_BLOCKS = 2

# A one-shot unpadded 1x1 call over at most this many output pixels (all images)
# reads its weights in place instead of packing them: with few pixels a weight is
# used so few times that packing it costs a tenth of the call (1024 -> 256 at
# 14x14: one-shot/packed 1.12 -> 1.02).  Over more pixels the pack costs a few
# per cent and its contiguous 6-channel rows stream better than six weight rows.
_ONESHOT_IN_PLACE_MAX_PIXELS = 1024


def _oneshot_winograd(dtype, N, ks, osp, g, st, dl, nthreads=1):
    """How a one-shot call (raw weights) packs for Winograd: "packed" (the whole
    transform, both layouts), "raw" (each chunk transformed where it runs) or
    "direct" (no Winograd weights).  ks, osp, st, dl: the call's spatial kernel,
    output, stride and dilation, as tuples; nthreads: the threads it may use."""
    # pack Winograd weights only for a call that can use them and amortises them
    wk = ks[0] if len(ks) == 2 and ks in ((3, 3), (5, 5)) else 0
    if not (wk and g == 1 and st == (1, 1) and dl == (1, 1)) or N <= 0:
        return "direct"
    mt = 4 if wk == 3 else 2   # output tile side: F(4x4,3x3), F(2x2,5x5)
    tiles = N
    for o in osp:
        tiles *= (o + mt - 1) // mt
    # enough tiles for Winograd to pay for transforming the weights chunk by chunk
    # where they are used: every image's tiles within one of the kernel's tile
    # blocks (each transforms the weights again), or two blocks on two threads
    block = _wino_block_tiles(dtype)
    if wk == 3 and block and tiles // N >= _ONESHOT_WINO_RAW_MIN_TILES:
        blocks = N * ((tiles // N + block - 1) // block)
        if tiles <= block or blocks <= min(nthreads, _ONESHOT_WINO_RAW_MAX_BLOCKS):
            return "raw"
    if tiles >= (_ONESHOT_WINOGRAD_MIN_TILES if wk == 3 else _ONESHOT_WINOGRAD5_MIN_TILES):
        return "packed"
    return "direct"


# ---------------------------------------------------------------- convolution

cdef inline object _conv_out_size(n, k, s, p_lo, p_hi, d):
    # Python integers: d * (k - 1) may exceed int64 for a huge dilation
    return (n + p_lo + p_hi - d * (k - 1) - 1) // s + 1


_ACTIVATIONS = {None: CCONV_ACT_NONE, "relu": CCONV_ACT_RELU}


cpdef _batched_input(x, int nd, str fname):
    """x as a float array with a batch axis, and whether the caller gave none."""
    xa = _as_float_array(x, "x")
    if xa.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"x must have {nd + 2} dimensions (N, C, *spatial) or {nd + 1} "
                         f"(C, *spatial) for {fname}, got shape {xa.shape}")
    unbatched = xa.ndim == nd + 1
    return (xa[None] if unbatched else xa), unbatched


_CONV_NAMES = (None, "conv1d", "conv2d", "conv3d")


cdef int _fill_arg(v, int nd, str name, int minimum, int64_t *dst) except -1:
    """dst[0:nd] = v (an int, or a length-nd sequence of ints), as _tuple_arg."""
    cdef int i
    cdef int64_t iv
    if type(v) is int:
        iv = _int_arg(v, name, minimum)
        for i in range(nd):
            dst[i] = iv
        return 0
    t = _tuple_arg(v, nd, name, minimum)
    for i in range(nd):
        dst[i] = t[i]
    return 0


cdef int64_t _prod_bytes(int64_t itemsize, int n, const int64_t *dims) except -2:
    """itemsize * prod(dims), or -1 where it exceeds _MAX_BYTES (0 with any zero)."""
    cdef int i
    cdef int64_t total = itemsize
    for i in range(n):
        if dims[i] == 0:
            return 0
    for i in range(n):
        if total > _MAX_BYTES // dims[i]:
            return -1
        total *= dims[i]
    return total


def conv(int nd, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=None,
         activation=None, residual=None, out=None, num_threads=None):
    """N-d convolution (nd = 1, 2, 3); see cconv.conv2d for the arguments."""
    xa, unbatched = _batched_input(x, nd, _CONV_NAMES[nd])
    cdef cnp.ndarray xc = xa
    cdef cconv_dtype dt = _float_array_code(xc)
    cdef int64_t N, C, K, Cg, g, i, o, tot
    cdef int64_t sp[3]
    cdef int64_t ks[3]
    cdef int64_t st[3]
    cdef int64_t dl[3]
    cdef int64_t plo[3]
    cdef int64_t phi[3]
    cdef int64_t osz[5]   # N, K, then the output's spatial sizes
    cdef cnp.ndarray wc

    cdef PackedWeights pw
    if isinstance(weight, PackedWeights):
        pw = weight
        if groups is not None and _int_arg(groups, "groups", 1) != pw.groups:
            raise ValueError(f"groups={groups} does not match the packed weights' "
                             f"groups={pw.groups}")
        wshape = pw.shape
        if pw.dt != dt:
            raise TypeError(f"weight has dtype {pw.dtype} but x has dtype {xa.dtype}; "
                            "cconv does not cast silently")
        g = pw.groups
    else:
        wa = _as_float_array(weight, "weight")
        g = 1 if groups is None else _int_arg(groups, "groups", 1)
        wshape = wa.shape
        wc = wa
        if _float_array_code(wc) != dt:
            raise TypeError(f"weight has dtype {wa.dtype} but x has dtype {xa.dtype}; "
                            "cconv does not cast silently")
    if len(wshape) != nd + 2:
        raise ValueError(f"weight must have {nd + 2} dimensions (K, C/groups, *kernel) for "
                         f"conv{nd}d, got shape {tuple(wshape)}")
    N = cnp.PyArray_DIMS(xc)[0]
    C = cnp.PyArray_DIMS(xc)[1]
    K = wshape[0]
    Cg = wshape[1]
    for i in range(nd):
        sp[i] = cnp.PyArray_DIMS(xc)[2 + i]
        ks[i] = wshape[2 + i]
    if C % g:
        raise ValueError(f"groups={g} does not divide the input's {C} channels")
    if K % g:
        raise ValueError(f"groups={g} does not divide the weight's {K} output channels")
    if Cg * g != C:
        raise ValueError(f"x has {C} channels but weight expects {Cg} x groups={g} = "
                         f"{Cg * g} input channels")
    for i in range(nd):
        if ks[i] < 1:
            raise ValueError(f"weight: kernel size must be >= 1, got {tuple(wshape[2:])}")

    _fill_arg(stride, nd, "stride", 1, st)
    _fill_arg(dilation, nd, "dilation", 1, dl)
    if isinstance(padding, str):
        if padding == "valid":
            for i in range(nd):
                plo[i] = phi[i] = 0
        elif padding == "same":
            for i in range(nd):
                if st[i] != 1:
                    raise ValueError("padding='same' requires stride=1 (as in PyTorch)")
            for i in range(nd):
                # the dilated kernel's extent beyond one pixel, as a Python
                # integer first: a huge dilation times a huge (empty) kernel
                # passes int64
                t = int(dl[i]) * (int(ks[i]) - 1)
                if t > _MAX_BYTES:
                    raise ValueError(f"padding='same': the dilated kernel size {t + 1} is too "
                                     f"large in spatial dim {i}")
                tot = t
                plo[i] = tot // 2
                phi[i] = tot - tot // 2
        else:
            raise ValueError(f"padding must be an int, a tuple, 'valid' or 'same'; "
                             f"got {padding!r}")
    else:
        _fill_arg(padding, nd, "padding", 0, plo)
        for i in range(nd):
            phi[i] = plo[i]
    osz[0] = N
    osz[1] = K
    for i in range(nd):
        if dl[i] <= (1 << 20) and ks[i] <= (1 << 40):
            o = sp[i] + plo[i] + phi[i] - dl[i] * (ks[i] - 1) - 1
            o = o // st[i] + 1 if o >= 0 else 0   # (C division truncates)
        else:   # Python integers: d * (k - 1) may exceed int64
            o = max(0, _conv_out_size(sp[i], ks[i], st[i], plo[i], phi[i], dl[i]))
        if o < 1:
            raise ValueError(
                f"weight: the (dilated) kernel size {int(dl[i]) * (int(ks[i]) - 1) + 1} is "
                f"larger than the padded input size {sp[i] + plo[i] + phi[i]} in spatial dim {i}")
        osz[2 + i] = o
    cdef int64_t isz = cnp.PyArray_ITEMSIZE(xc)
    oshape = tuple([osz[i] for i in range(nd + 2)])
    if _prod_bytes(isz, nd + 2, osz) < 0:
        _check_size(oshape, isz, "output")   # raises, naming the shape
    if cnp.PyArray_NBYTES(xc) > _MAX_BYTES:
        _check_size(xa.shape, isz, "x")

    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be None or 'relu', got {activation!r}")

    ba = None
    if bias is not None:
        ba = _as_float_array(bias, "bias")
        if ba.dtype != xa.dtype:
            raise TypeError(f"bias has dtype {ba.dtype} but x has dtype {xa.dtype}; "
                            "cconv does not cast silently")
        if ba.shape != (K,):
            raise ValueError(f"bias must have shape ({K},), got {ba.shape}")
        ba = np.ascontiguousarray(ba)

    ra = None
    if residual is not None:
        ra = _as_float_array(residual, "residual")
        if ra.dtype != xa.dtype:
            raise TypeError(f"residual has dtype {ra.dtype} but x has dtype {xa.dtype}; "
                            "cconv does not cast silently")
        if unbatched:
            ra = ra[None]
        if ra.shape != oshape:
            want = oshape[1:] if unbatched else oshape
            got = ra.shape[1:] if unbatched else ra.shape
            raise ValueError(f"residual must have the output's shape {want}, got {got}")
        if not _spatial_contiguous(ra, nd) or any(s % ra.itemsize for s in ra.strides):
            ra = np.ascontiguousarray(ra)

    cdef int nt = _threads_arg(num_threads)
    # the kernels' 1x1 GEMM path, the only one that can read weights in place
    cdef bint gemm_1x1 = True, unstrided = True
    for i in range(nd):
        if ks[i] != 1 or plo[i] != 0:
            gemm_1x1 = False
        if st[i] != 1:
            unstrided = False
    cdef int64_t npix
    if not isinstance(weight, PackedWeights):
        osp = tuple(oshape[2:])
        layout = _oneshot_winograd(wa.dtype, N, tuple(wshape[2:]), osp, g,
                                   tuple([st[i] for i in range(nd)]),
                                   tuple([dl[i] for i in range(nd)]),
                                   nt if nt > 0 else cconv_default_threads())
        # unpadded 1x1 (the GEMM path) over few pixels: the weights are read in place
        npix = N
        for i in range(nd):
            npix *= osz[2 + i]
        pw = PackedWeights(wa, g, num_threads=num_threads, _direct_only=layout == "direct",
                           _in_place_1x1=gemm_1x1 and npix <= _ONESHOT_IN_PLACE_MAX_PIXELS,
                           _wino_raw=layout == "raw")
    elif (pw.ws.flags & CCONV_PACK_IN_PLACE_1X1) and not gemm_1x1:
        raise ValueError("weight: weights kept in place (_in_place_1x1) serve only unpadded "
                         "1x1 convolutions")

    if not cnp.PyArray_IS_C_CONTIGUOUS(xc):
        xa = np.ascontiguousarray(xa)
        xc = xa
    cdef cnp.npy_intp odims[5]
    if out is None:
        # an unstrided 1x1 whose channel planes are whole cache lines: its
        # result starts as far into a line as its input (NumPy's arrays start
        # 16 or 32 bytes in), so that the kernel's tiles, after a short head
        # tile, start on lines in both, where an aligned result under a
        # misaligned input split every tile's stores (256 -> 64 at 56x56,
        # one thread: x0.96)
        for i in range(nd + 2):
            odims[i] = osz[i]
        ya = _empty_aligned_descr(nd + 2, odims, xc.descr,
                                  _line_offset(xc) if gemm_1x1 and unstrided
                                  and _plane_bytes(xc) % _ALIGN == 0 else 0)
        out_user = None
    else:
        ya = out[None] if (unbatched and isinstance(out, np.ndarray)) else out
        want = oshape[1:] if unbatched else oshape
        _check_out(out, want, xa.dtype, nd, [(x if isinstance(x, np.ndarray) else None, "x"),
                                             (xa, "x"), (ba, "bias"),
                                             (weight if isinstance(weight, np.ndarray) else None,
                                              "weight")])
        out_user = out
        if ra is not None and ra.size and _overlap(ya, ra):
            same = (ra.__array_interface__["data"][0] == ya.__array_interface__["data"][0]
                    and ra.strides == ya.strides)
            if not same:
                raise ValueError("out overlaps residual (only out=residual exactly is allowed)")

    cdef cconv_conv_params p
    memset(&p, 0, sizeof(p))
    p.w = pw.ws
    p.N = N
    p.C = C
    cdef int lead = 3 - nd, j
    for i in range(3):
        j = i - lead
        p.in_[i] = sp[j] if j >= 0 else 1
        p.out[i] = osz[2 + j] if j >= 0 else 1
        p.stride[i] = st[j] if j >= 0 else 1
        p.pad[i] = plo[j] if j >= 0 else 0
        p.dil[i] = dl[j] if j >= 0 else 1
    p.x_sn = _elem_stride(xc, 0)
    p.x_sc = _elem_stride(xc, 1)
    p.y_sn = _elem_stride(ya, 0)
    p.y_sk = _elem_stride(ya, 1)
    if ra is not None:
        p.r_sn = _elem_stride(ra, 0)
        p.r_sk = _elem_stride(ra, 1)
    p.activation = _ACTIVATIONS[activation]

    cdef cnp.ndarray yc = ya
    cdef const void *xp = cnp.PyArray_DATA(xc)
    cdef void *yp = cnp.PyArray_DATA(yc)
    cdef const void *bp = NULL
    cdef const void *rp = NULL
    cdef cnp.ndarray tmp
    if ba is not None:
        tmp = ba
        bp = cnp.PyArray_DATA(tmp)
    if ra is not None:
        tmp = ra
        rp = cnp.PyArray_DATA(tmp)
    cdef _conv_job job
    job.kern = pw.kern
    job.p = p
    job.x = <const char *>xp
    job.r = <const char *>rp
    job.y = <char *>yp
    job.w = pw.data
    job.b = bp
    job.isz = isz
    job.nt = nt
    # Big calls run batch chunk by batch chunk, checking for Ctrl-C in between.
    cdef double per_image = <double>K * Cg
    for i in range(nd):
        per_image *= <double>ks[i] * osz[2 + i]
    cdef int rc = CCONV_OK
    if cnp.PyArray_SIZE(yc):
        rc = _in_chunks(_conv_chunk, &job, N, per_image / nt)
    if rc == CCONV_ENOMEM:
        raise MemoryError("cconv: could not allocate kernel scratch memory")
    if rc != CCONV_OK:
        raise RuntimeError(f"cconv: the {pw.isa} kernel refused this call (code {rc})")
    if out_user is not None:
        return out_user
    return ya[0] if unbatched else ya


def _per_layer(v, int nl, str name):
    """v (one value for every layer) or a list/tuple of nl values."""
    if isinstance(v, (list, tuple)):
        if len(v) != nl:
            raise ValueError(f"{name} must have one entry per layer ({nl}), got {len(v)}")
        return list(v)
    return [v] * nl


def conv1x1_chain(x, weights, biases=None, activation=None, out=None, num_threads=None):
    """A chain of 1x1 convolutions; see cconv.conv1x1_chain."""
    xa, unbatched = _batched_input(x, 2, "conv1x1_chain")
    cdef cconv_dtype dt = _float_array_code(xa)
    if not isinstance(weights, (list, tuple)) or not weights:
        raise TypeError("weights must be a non-empty list of (K, C, 1, 1) weights "
                        "(arrays or PackedWeights)")
    nl = len(weights)
    if biases is not None and not isinstance(biases, (list, tuple)):
        raise TypeError("biases must be None or a list with one bias (or None) per layer")
    bs = [None] * nl if biases is None else _per_layer(biases, nl, "biases")
    acts = _per_layer(activation, nl, "activation")
    N, C, H, W = xa.shape
    if H < 1 or W < 1:
        # as conv2d: a 1x1 kernel does not fit an empty image
        raise ValueError(f"x: the 1x1 kernel is larger than the input's {H}x{W} image")
    pws, bas, chans = [], [], [C]
    for i, w in enumerate(weights):
        name = f"weights[{i}]"
        if isinstance(w, PackedWeights):
            pw = w
            if pw.groups != 1:
                raise ValueError(f"{name}: a 1x1 chain takes groups=1 weights, got groups={pw.groups}")
        else:
            wa = _as_float_array(w, name)
            if wa.ndim != 4:
                raise ValueError(f"{name} must have shape (K, C, 1, 1), got {wa.shape}")
            pw = None
        shape = (pw.shape if pw is not None else wa.shape)
        wdt = pw.dtype if pw is not None else wa.dtype
        if len(shape) != 4 or shape[2:] != (1, 1):
            raise ValueError(f"{name} must have shape (K, C, 1, 1), got {tuple(shape)}")
        if wdt != xa.dtype:
            raise TypeError(f"{name} has dtype {wdt} but x has dtype {xa.dtype}; "
                            "cconv does not cast silently")
        if shape[1] != chans[i]:
            raise ValueError(f"{name} expects {shape[1]} input channels, but "
                             + ("x has" if i == 0 else f"layer {i - 1} gives") + f" {chans[i]}")
        if pw is None:
            pw = PackedWeights(wa, 1, num_threads=num_threads, _direct_only=True)
        if acts[i] not in _ACTIVATIONS:
            raise ValueError(f"activation[{i}] must be None or 'relu', got {acts[i]!r}")
        b = bs[i]
        if b is not None:
            b = _as_float_array(b, f"biases[{i}]")
            if b.dtype != xa.dtype:
                raise TypeError(f"biases[{i}] has dtype {b.dtype} but x has dtype {xa.dtype}; "
                                "cconv does not cast silently")
            if b.shape != (shape[0],):
                raise ValueError(f"biases[{i}] must have shape ({shape[0]},), got {b.shape}")
            b = np.ascontiguousarray(b)
        pws.append(pw)
        bas.append(b)
        chans.append(shape[0])
    oshape = (N, chans[nl], H, W)
    _check_size(oshape, xa.itemsize, "output")
    cdef int nt = _threads_arg(num_threads)
    xa = np.ascontiguousarray(xa)
    if out is None:
        ya = empty_aligned(oshape, xa.dtype)
    else:
        want = oshape[1:] if unbatched else oshape
        _check_out(out, want, xa.dtype, 2, [(x if isinstance(x, np.ndarray) else None, "x"),
                                            (xa, "x")])
        ya = out[None] if unbatched else out

    cdef PackedWeights pk = pws[0]
    cdef const cconv_conv_kernels *kern = pk.kern
    for i in range(1, nl):
        pk = pws[i]
        if pk.kern != kern:
            kern = NULL
    if kern == NULL or kern.chain == NULL or xa.size == 0 or ya.size == 0:
        # no fused chain for these kernels: one conv per layer
        h = xa
        for i in range(nl):
            last = i + 1 == nl
            h = conv(2, h, pws[i], bas[i], 1, 0, 1, None, acts[i], None,
                     ya if last else None, num_threads)
        return out if out is not None else (ya[0] if unbatched else ya)

    cdef _chain_job job
    memset(&job, 0, sizeof(job))
    job.kern = kern
    job.isz = xa.itemsize
    job.nt = nt
    cdef cnp.ndarray tmp
    cdef int l, l0, l1
    cdef int64_t P = H * W
    cdef int rc = CCONV_OK
    job.p.P = P
    cdef double per_image
    # CCONV_CHAIN_MAX layers per kernel call; a longer chain runs as several,
    # the in-between activations in a temporary
    l0 = 0
    src = xa
    while l0 < nl and rc == CCONV_OK:
        l1 = min(nl, l0 + CCONV_CHAIN_MAX)
        dst = ya if l1 == nl else empty_aligned((N, chans[l1], H, W), xa.dtype)
        job.p.nl = l1 - l0
        per_image = 0
        for l in range(l0, l1):
            per_image += float(chans[l]) * chans[l + 1] * P
            pk = pws[l]
            job.p.w[l - l0] = pk.buf
            job.p.bias[l - l0] = NULL
            if bas[l] is not None:
                tmp = bas[l]
                job.p.bias[l - l0] = cnp.PyArray_DATA(tmp)
            job.p.act[l - l0] = _ACTIVATIONS[acts[l]]
            job.p.C[l - l0] = chans[l]
        job.p.C[l1 - l0] = chans[l1]
        job.p.x_sn = _elem_stride(src, 0)
        job.p.x_sc = _elem_stride(src, 1)
        job.p.y_sn = _elem_stride(dst, 0)
        job.p.y_sk = _elem_stride(dst, 1)
        tmp = src
        job.x = <const char *>cnp.PyArray_DATA(tmp)
        tmp = dst
        job.y = <char *>cnp.PyArray_DATA(tmp)
        rc = _in_chunks(_chain_chunk, &job, N, per_image / nt)
        src = dst
        l0 = l1
    if rc == CCONV_ENOMEM:
        raise MemoryError("cconv: could not allocate kernel scratch memory")
    if out is not None:
        return out
    return ya[0] if unbatched else ya


# ---------------------------------------------------------------- pooling

def _pool_out_size(n, k, s, p, d, bint ceil_mode):
    # Python integers: d * (k - 1) may exceed int64 for a huge kernel and dilation
    eff = d * (k - 1) + 1
    num = n + 2 * p - eff
    if num < 0:
        return 0
    o = (num + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def pool(int nd, str kind, x, kernel_size, stride=None, padding=0, dilation=1,
         ceil_mode=False, count_include_pad=True, num_threads=None):
    """N-d max or average pooling; see cconv.max_pool2d / cconv.avg_pool2d."""
    xa, unbatched = _batched_input(x, nd, f"{kind}_pool{nd}d")
    cdef cconv_dtype dt = _float_array_code(xa)
    ks = _tuple_arg(kernel_size, nd, "kernel_size", 1)
    st = ks if stride is None else _tuple_arg(stride, nd, "stride", 1)
    pd = _tuple_arg(padding, nd, "padding", 0)
    dl = _tuple_arg(dilation, nd, "dilation", 1)
    for i in range(nd):
        eff = dl[i] * (ks[i] - 1) + 1 if kind == "max" else ks[i]
        if 2 * pd[i] > eff:
            raise ValueError(f"padding {pd[i]} must be at most half the kernel size "
                             f"{eff} (as in PyTorch)")
    spatial = tuple(xa.shape[2:])
    osp = []
    for i in range(nd):
        o = _pool_out_size(spatial[i], ks[i], st[i], pd[i], dl[i], bool(ceil_mode))
        if o < 1:
            raise ValueError(f"kernel_size {ks[i]} (dilation {dl[i]}) is larger than the "
                             f"padded input size {spatial[i] + 2 * pd[i]} in spatial dim {i}")
        osp.append(o)
    N, C = xa.shape[0], xa.shape[1]
    oshape = (N, C) + tuple(osp)
    _check_size(xa.shape, xa.itemsize, "x")
    cdef int nt = _threads_arg(num_threads)
    if not cnp.PyArray_IS_C_CONTIGUOUS(xa):
        xa = np.ascontiguousarray(xa)
    ya = empty_aligned(oshape, xa.dtype)
    cdef cconv_pool_params p
    memset(&p, 0, sizeof(p))
    p.NC = N * C
    lead = 3 - nd
    for i in range(3):
        j = i - lead
        p.in_[i] = spatial[j] if j >= 0 else 1
        p.out[i] = osp[j] if j >= 0 else 1
        p.ks[i] = ks[j] if j >= 0 else 1
        p.stride[i] = st[j] if j >= 0 else 1
        p.pad[i] = pd[j] if j >= 0 else 0
        p.dil[i] = dl[j] if j >= 0 else 1
    p.kind = CCONV_POOL_MAX if kind == "max" else CCONV_POOL_AVG
    p.count_include_pad = 1 if count_include_pad else 0
    cdef cnp.ndarray xc = xa
    cdef cnp.ndarray yc = ya
    cdef const void *xp = cnp.PyArray_DATA(xc)
    cdef void *yp = cnp.PyArray_DATA(yc)
    # Big calls run plane chunk by plane chunk, checking for Ctrl-C in between.
    cdef _pool_job job
    job.p = p
    job.dt = dt
    job.x = <const char *>xp
    job.y = <char *>yp
    job.isz = xa.itemsize
    job.nt = nt
    job.in_plane = p.in_[0] * p.in_[1] * p.in_[2]
    job.out_plane = p.out[0] * p.out[1] * p.out[2]
    cdef double per_plane = float(job.out_plane) * p.ks[0] * p.ks[1] * p.ks[2] + job.in_plane
    cdef int rc = CCONV_OK
    if ya.size:
        rc = _in_chunks(_pool_chunk, &job, N * C, per_plane)
    if rc == CCONV_ENOMEM:
        raise MemoryError("cconv: could not allocate pooling scratch memory")
    return ya[0] if unbatched else ya


def relu(x, out=None, num_threads=None):
    """max(x, 0) element-wise (NaN propagates); `out` may be x itself."""
    xa = _as_float_array(x, "x")
    cdef cconv_dtype dt = _float_array_code(xa)
    cdef int nt = _threads_arg(num_threads)
    src = np.ascontiguousarray(xa).reshape(xa.shape)   # keeps 0-d arrays 0-d
    if out is None:
        dst = empty_aligned(src.shape, src.dtype)
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
        if out.dtype != xa.dtype:
            raise TypeError(f"out has dtype {out.dtype}; expected {xa.dtype}")
        if out.shape != xa.shape:
            raise ValueError(f"out has shape {out.shape}; expected {xa.shape}")
        if not out.flags.writeable:
            raise ValueError("out is read-only")
        if out.flags.c_contiguous and (src is out or not _overlap(src, out)):
            dst = out
        else:
            dst = empty_aligned(src.shape, src.dtype)
    cdef cnp.ndarray xc = src
    cdef cnp.ndarray yc = dst
    cdef const void *xp = cnp.PyArray_DATA(xc)
    cdef void *yp = cnp.PyArray_DATA(yc)
    cdef _relu_job job
    job.dt = dt
    job.x = <const char *>xp
    job.y = <char *>yp
    job.isz = src.itemsize
    job.nt = nt
    _in_chunks(_relu_chunk, &job, src.size, 1.0)
    if out is not None and dst is not out:
        np.copyto(out, dst)
        return out
    return dst
