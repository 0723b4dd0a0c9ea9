"""Every bad input gets a clear ValueError/TypeError naming the argument."""
import numpy as np
import pytest

import cconv

f32 = np.float32


def X(*shape, dtype=f32):
    return np.zeros(shape, dtype)


@pytest.mark.parametrize("call, exc, match", [
    # wrong ndim
    (lambda: cconv.conv2d(X(3, 5), X(2, 3, 1, 1)), ValueError, "x must have 4"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1)), ValueError, "weight must have 4"),
    (lambda: cconv.conv1d(X(1, 3, 5, 5), X(2, 3, 1)), ValueError, "x must have 3"),
    (lambda: cconv.conv3d(X(3, 5, 5), X(2, 3, 1, 1, 1)), ValueError, "x must have 5"),
    # channels and groups
    (lambda: cconv.conv2d(X(1, 4, 5, 5), X(2, 3, 1, 1)), ValueError, "channels"),
    (lambda: cconv.conv2d(X(1, 4, 5, 5), X(2, 2, 1, 1), groups=3), ValueError, "groups=3"),
    (lambda: cconv.conv2d(X(1, 4, 5, 5), X(3, 2, 1, 1), groups=2), ValueError, "groups=2"),
    (lambda: cconv.conv2d(X(1, 4, 5, 5), X(2, 4, 1, 1), groups=0), ValueError, "groups"),
    (lambda: cconv.pack_weights(X(3, 2, 1, 1), groups=2), ValueError, "groups=2"),
    # bias
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), X(3)), ValueError, "bias"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), X(2, 1)), ValueError, "bias"),
    # stride / dilation / padding
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), stride=0), ValueError, "stride"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), dilation=(1, 0)), ValueError, "dilation"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), padding=-1), ValueError, "padding"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), padding=(1, 2, 3)), ValueError, "padding"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), padding="full"), ValueError, "padding"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 3, 3), padding="same", stride=2), ValueError, "same"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), stride=1.5), TypeError, "stride"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), stride=True), TypeError, "stride"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 7, 1)), ValueError, "larger than the padded"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 3, 3), dilation=3), ValueError, "larger than the padded"),
    # a kernel one stride short of fitting (the size's numerator is negative)
    (lambda: cconv.conv2d(X(1, 3, 1, 1), X(2, 3, 3, 1), stride=3), ValueError, "larger than the padded"),
    (lambda: cconv.conv1d(X(1, 3, 4), X(2, 3, 7), stride=(5,)), ValueError, "larger than the padded"),
    # a dilated kernel past int64 (an empty weight may have a huge kernel)
    (lambda: cconv.conv1d(X(1, 1, 5), X(0, 1, 2**45), dilation=2**40), ValueError,
     "larger than the padded"),
    (lambda: cconv.conv1d(X(1, 1, 5), X(0, 1, 2**45), dilation=2**40, padding="same"), ValueError,
     "too large"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), activation="gelu"), ValueError, "activation"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), num_threads=0), ValueError, "num_threads"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), num_threads="2"), TypeError, "num_threads"),
    (lambda: cconv.pack_weights(X(2, 3, 1, 1), num_threads=0), ValueError, "num_threads"),
    (lambda: cconv.pack_weights(X(2, 3, 1, 1), num_threads=2.0), TypeError, "num_threads"),
    # pooling
    (lambda: cconv.max_pool2d(X(1, 3, 5, 5), 3, padding=2), ValueError, "padding"),
    (lambda: cconv.avg_pool2d(X(1, 3, 5, 5), 2, padding=2), ValueError, "padding"),
    (lambda: cconv.max_pool2d(X(1, 3, 5, 5), 0), ValueError, "kernel_size"),
    (lambda: cconv.max_pool2d(X(1, 3, 5, 5), 2, stride=0), ValueError, "stride"),
    (lambda: cconv.max_pool2d(X(1, 3, 2, 2), 3), ValueError, "kernel_size"),
    (lambda: cconv.max_pool2d(X(5, 5), 2), ValueError, "x must have"),
    (lambda: cconv.max_pool1d(X(1, 3, 5), (2, 2)), ValueError, "kernel_size"),
    (lambda: cconv.avg_pool2d(X(1, 3, 5, 5, dtype=np.int32), 2), TypeError, "x"),
    # residual
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), residual=X(1, 2, 4, 5)), ValueError, "residual"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), X(2, 3, 1, 1), residual=X(1, 2, 5, 5, dtype=np.float64)),
     TypeError, "residual"),
    # weights
    (lambda: cconv.conv2d(X(1, 3, 5, 5), cconv.pack_weights(X(2, 3, 1, 1)), groups=3), ValueError, "groups"),
    (lambda: cconv.conv2d(cconv.pack_weights(X(2, 3, 1, 1)), X(2, 3, 1, 1)), TypeError, "x"),
    (lambda: cconv.conv2d(X(1, 3, 5, 5), "weights"), TypeError, "weight"),
])
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, np.float16, np.complex64,
                                   np.complex128, object])
@pytest.mark.parametrize("which", ["x", "weight", "bias"])
def test_unsupported_dtypes(dtype, which):
    args = {"x": X(1, 3, 5, 5), "weight": X(2, 3, 1, 1), "bias": X(2)}
    args[which] = args[which].astype(dtype)
    with pytest.raises(TypeError, match=which):
        cconv.conv2d(args["x"], args["weight"], args["bias"])


@pytest.mark.parametrize("which", ["x", "weight", "bias", "residual"])
def test_byteswapped_float32_refused(which):
    """float32 in the other byte order is not cast silently either."""
    args = {"x": X(1, 3, 5, 5), "weight": X(2, 3, 1, 1), "bias": X(2), "residual": X(1, 2, 5, 5)}
    args[which] = args[which].astype(args[which].dtype.newbyteorder())
    with pytest.raises(TypeError, match=which):
        cconv.conv2d(args["x"], args["weight"], args["bias"], residual=args["residual"])


@pytest.mark.parametrize("which", ["weight", "bias"])
def test_mixed_dtypes(which):
    args = {"x": X(1, 3, 5, 5), "weight": X(2, 3, 1, 1), "bias": X(2)}
    args[which] = args[which].astype(np.float64)
    with pytest.raises(TypeError, match=which):
        cconv.conv2d(args["x"], args["weight"], args["bias"])


def test_bad_out():
    x, w = X(2, 3, 5, 5), X(4, 3, 3, 3)
    with pytest.raises(ValueError, match="out has shape"):
        cconv.conv2d(x, w, out=X(2, 4, 5, 5))
    with pytest.raises(TypeError, match="out has dtype"):
        cconv.conv2d(x, w, out=X(2, 4, 3, 3, dtype=np.float64))
    with pytest.raises(TypeError, match="out must be"):
        cconv.conv2d(x, w, out=[[0]])
    with pytest.raises(ValueError, match="spatial"):
        cconv.conv2d(x, w, out=X(2, 4, 3, 6)[:, :, :, ::2])
    with pytest.raises(ValueError, match="spatial"):
        cconv.conv2d(x, w, out=np.asfortranarray(X(2, 4, 3, 3)))
    ro = X(2, 4, 3, 3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        cconv.conv2d(x, w, out=ro)
    # overlapping the input
    buf = X(2, 8, 5, 5)
    with pytest.raises(ValueError, match="overlaps x"):
        cconv.conv2d(buf[:, :3], X(4, 3, 1, 1), out=buf[:, 2:6])
    # overlapping itself (zero stride)
    selfov = np.lib.stride_tricks.as_strided(X(2, 1, 3, 3), (2, 4, 3, 3), (36, 0, 12, 4))
    with pytest.raises(ValueError, match="overlap"):
        cconv.conv2d(x, w, out=selfov)
    # partially overlapping the residual
    r = X(2, 5, 3, 3)
    with pytest.raises(ValueError, match="residual"):
        cconv.conv2d(x, w, residual=r[:, :4], out=r[:, 1:])


def test_huge_shapes_refused_before_allocation():
    big = np.lib.stride_tricks.as_strided(np.zeros(1, f32), (1, 1, 2**30, 2**30), (0, 0, 0, 0))
    with pytest.raises(ValueError, match="too large"):
        cconv.conv2d(big, X(1, 1, 1, 1))
    with pytest.raises(ValueError, match="too large"):
        cconv.max_pool2d(big, 1)
    with pytest.raises(ValueError, match="too large"):
        cconv.conv1d(X(1, 1, 5), X(1, 1, 1), padding=2**45)
    with pytest.raises(ValueError, match="too large"):
        cconv.conv2d(X(1, 1, 5, 5), X(1, 1, 1, 1), padding=2**41)
