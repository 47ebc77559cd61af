"""Adversarial arrays: every dtype, layout and value pattern int8q must handle.

After bottleneck's tests/util.py: each case has a description that names
dtype, shape, layout and values, used in assertion messages.
"""

import numpy as np

try:
    import ml_dtypes
except ImportError:  # optional dependency
    ml_dtypes = None

FLOAT_DTYPES = [np.float16, np.float32, np.float64]
if ml_dtypes is not None:
    FLOAT_DTYPES.append(ml_dtypes.bfloat16)
INT_DTYPES = [np.int8, np.uint8, np.int32, np.int64, np.uint64, np.bool_]


def _values(kind, shape, dtype, rng):
    """Float64 values of a pattern that is finite in `dtype`."""
    n = int(np.prod(shape))
    info = np.finfo(dtype) if np.dtype(dtype).kind != "V" else np.finfo(np.float32)
    if np.dtype(dtype).name == "bfloat16":
        info = ml_dtypes.finfo(dtype)
    if kind == "normal":
        v = rng.standard_normal(n)
    elif kind == "ties":
        # absmax 127 makes the scale exactly 1, so x / scale is an exact .5 tie.
        v = rng.integers(-126, 126, n) + 0.5
        v[:: max(1, n // 3)] = 127.0
    elif kind == "scaled_ties":
        # Ties at other scales: absmax 127 * 2^k keeps the scale a power of two.
        v = (rng.integers(-126, 126, n) + 0.5) * 2.0**-3
        v[:1] = 127.0 * 2.0**-3
    elif kind == "huge":
        v = rng.uniform(-1, 1, n) * float(info.max)
        v[:1] = float(info.max)
    elif kind == "tiny":
        v = rng.uniform(-1, 1, n) * float(info.tiny) * 4
    elif kind == "subnormal":
        sub = float(info.smallest_subnormal)
        v = rng.integers(-300, 300, n) * sub
    elif kind == "zeros":
        v = np.zeros(n)
    elif kind == "mixed":
        v = rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
        v = np.clip(v, -float(info.max), float(info.max))
    else:
        raise ValueError(kind)
    return v.reshape(shape)


VALUE_KINDS = ["normal", "ties", "scaled_ties", "huge", "tiny", "subnormal", "zeros", "mixed"]
SHAPES = [(), (0,), (1,), (7,), (5, 0), (0, 5), (33, 65), (3, 4, 37)]


def _layouts(a):
    """a in several memory layouts, all with the same values."""
    yield "C", np.ascontiguousarray(a)
    if a.ndim >= 2:
        yield "F", np.asfortranarray(a)
        yield "T.T", np.ascontiguousarray(a.T).T
        yield "[:, ::2]", np.repeat(a, 2, axis=1)[:, ::2]
    if a.ndim >= 1:
        yield "[::2]", np.repeat(a, 2, axis=0)[::2]
        yield "[::-1][::-1]", a[::-1].copy()[::-1]
    if a.dtype.kind == "f" and a.dtype.itemsize > 1:
        yield "byteswapped", a.astype(a.dtype.newbyteorder())


def adversarial(dtypes=None, shapes=SHAPES, kinds=VALUE_KINDS, seed=0):
    """Yield (description, array) over dtypes x shapes x value kinds x layouts."""
    rng = np.random.default_rng(seed)
    for dtype in dtypes or FLOAT_DTYPES:
        for shape in shapes:
            for kind in kinds:
                values = _values(kind, shape, dtype, rng)
                with np.errstate(over="ignore"):
                    a = np.asarray(values).astype(dtype)
                if not np.isfinite(a.astype(np.float64)).all():
                    continue
                for layout, arr in _layouts(a):
                    name = np.dtype(dtype).name
                    yield f"{name} {shape} {kind} {layout}", arr


def integer_arrays(seed=1):
    rng = np.random.default_rng(seed)
    for dtype in INT_DTYPES:
        info = np.iinfo(dtype) if dtype is not np.bool_ else None
        lo, hi = (0, 2) if info is None else (max(info.min, -(2**62)), min(info.max, 2**62))
        for shape in [(0,), (9,), (17, 5)]:
            a = rng.integers(lo, hi, shape, endpoint=False).astype(dtype)
            for layout, arr in _layouts(a):
                yield f"{np.dtype(dtype).name} {shape} {layout}", arr


# Both roundings, for tests that run each.
ROUNDINGS = ["half_even", "half_away"]


def nasty(shape, block, seed, huge=1e37):
    """float32 values of `shape` whose blocks of `block` (along the last axis)
    each get one treatment: random, exact ties of their own scale, the floats
    next to those ties, all zero, a subnormal abs-max (no exact reciprocal),
    a huge abs-max (times `huge`), a single non-zero value."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    rows = x.reshape(-1, shape[-1])
    for r in range(rows.shape[0]):
        for b0 in range(0, shape[-1], block):
            blk = rows[r, b0 : b0 + block]
            kind = rng.integers(7)
            if kind == 1:  # exact ties k + 1/2 of the block's scale 1
                blk[:] = rng.integers(-126, 126, blk.size) + np.float32(0.5)
                blk[0] = 127
            elif kind == 2:  # the floats next to those ties
                ties = rng.integers(-126, 126, blk.size) + np.float32(0.5)
                blk[:] = np.nextafter(ties, rng.choice([-np.inf, np.inf], blk.size)).astype(
                    np.float32
                )
                blk[0] = 127
            elif kind == 3:
                blk[:] = 0
            elif kind == 4:  # subnormal scale: the division path
                blk[:] *= np.float32(1e-39)
            elif kind == 5:
                blk[:] *= np.float32(huge)
            elif kind == 6:
                blk[:] = 0
                blk[rng.integers(blk.size)] = rng.standard_normal()
    return x
