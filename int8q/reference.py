"""The contract in plain NumPy: slow, obvious, and the oracle for the tests.

Every fast path of int8q must give bit-identical results to these functions.
They take already-valid input (no error handling beyond what NumPy does) and
are written to be checked by eye against docs/semantics.md (§1-§3).
"""
import numpy as np


def working_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize <= 4 or dtype.name == "bfloat16":
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def round_to_int(v, rounding="half_even"):
    """Round a float array to integral values (same dtype)."""
    if rounding == "half_even":
        return np.rint(v)
    # half_away: rint is right except at exact ties, which go away from zero.
    t = np.trunc(v)
    tie = np.abs(v - t) == 0.5
    return np.where(tie, t + np.sign(v), np.rint(v))


def _blocked(x, block_size):
    """x with its last axis split into (nblocks, block_size), zero padded."""
    n = x.shape[-1]
    block_size = max(1, min(block_size, n))  # a block never outgrows its row
    nblocks = -(-n // block_size)
    pad = nblocks * block_size - n
    padded = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,), x.dtype)], axis=-1)
    return padded.reshape(x.shape[:-1] + (nblocks, block_size)), pad


def absmax(x, axis=None, block_size=None):
    """Abs-max in the working dtype, shaped like quantize's scale."""
    x = np.asarray(x)
    xw = x.astype(working_dtype(x.dtype))
    a = np.abs(xw)
    if axis is not None:
        axis = axis % x.ndim
        others = tuple(i for i in range(x.ndim) if i != axis)
        return np.max(a, axis=others, initial=0).astype(xw.dtype)
    if block_size is not None:
        blocks, _ = _blocked(a, block_size)
        return np.max(blocks, axis=-1, initial=0).astype(xw.dtype)
    return np.asarray(np.max(a, initial=0), dtype=xw.dtype)


def expand_scale(scale, shape, axis=None, block_size=None):
    """The scale broadcast to `shape`, element by element."""
    if axis is not None:
        axis = axis % len(shape)
        view = [1] * len(shape)
        view[axis] = shape[axis]
        return np.broadcast_to(scale.reshape(view), shape)
    if block_size is not None:
        block_size = max(1, min(block_size, shape[-1]))
        return np.repeat(scale, block_size, axis=-1)[..., :shape[-1]]
    return np.broadcast_to(scale, shape)


def quantize(x, axis=None, block_size=None, rounding="half_even"):
    """(q, scale) exactly as the contract defines them."""
    x = np.asarray(x)
    xw = x.astype(working_dtype(x.dtype))
    scale = absmax(x, axis, block_size) / xw.dtype.type(127)
    scale = np.where(scale == 0, xw.dtype.type(1), scale).astype(xw.dtype)
    v = xw / expand_scale(scale, x.shape, axis, block_size)
    q = np.clip(round_to_int(v, rounding), -127, 127).astype(np.int8)
    return q, scale


def dequantize(q, scale, axis=None, block_size=None):
    scale = np.asarray(scale)
    # 127 * RN(absmax / 127) can exceed the largest finite float when absmax is
    # within an ulp or so of it: the contract's product is then inf.
    with np.errstate(over="ignore"):
        return q.astype(scale.dtype) * expand_scale(scale, q.shape, axis, block_size)


def int8_quantize(x):
    """int8_quantize (the dict form), written the obvious NumPy way."""
    a = np.asarray(list(x), dtype=np.float64)
    absmax_value = float(np.max(np.abs(a))) if a.size else 0.0
    scale = absmax_value / 127
    if scale == 0:
        scale = 1.0
    q = np.clip(np.rint(a / scale), -127, 127)
    with np.errstate(over="ignore"):  # inf at the very top of the range, as in dequantize
        d = q * scale
    return {
        "quantized": [int(v) for v in q],
        "scale": round(scale, 6),
        "dequantized": [round(float(v), 4) for v in d],
    }
