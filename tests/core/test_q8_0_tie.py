"""GGML Q8_0 with block scales exactly on a float16 rounding tie.

A block's scale d = amax / 127 (float32) is stored as float16, rounded to
nearest even as NumPy's astype and gguf-py do.  Random data lands on a tie
only by chance; these blocks are built so that d is exactly halfway between
two float16 values, with the lower one even (ties-to-even rounds down) and
odd (it rounds up), normal and subnormal, including the carry into the next
binade, on every SIMD level, in whole vector groups and in the tail."""

import numpy as np
import pytest

from int8q import ggml
from int8q.reference import quantize_q8_0 as expected_q8_0

F32_127 = np.float32(127)


def _f16_tie_targets():
    """float32 values exactly halfway between adjacent float16 values."""
    ties = []
    for e in (-14, -9, -1, 0, 4, 11):  # normal float16 binades [2^e, 2^(e+1))
        for m in (0, 1, 2, 3, 510, 511, 1021, 1022, 1023):
            ties.append(np.float32((1024 + m + 0.5) * 2.0 ** (e - 10)))
    for m in (0, 1, 2, 3, 1021, 1022, 1023):  # subnormal float16: steps of 2^-24
        ties.append(np.float32((m + 0.5) * 2.0**-24))
    return ties


def _is_tie(t):
    lo = np.float16(t)  # either neighbour; find both around t
    below = lo if np.float32(lo) < t else np.nextafter(lo, np.float16(-np.inf))
    above = np.nextafter(below, np.float16(np.inf))
    return (np.float64(below) + np.float64(above)) / 2 == np.float64(t), below


def _amax_for(t):
    """A float32 amax with amax / 127 == t exactly in float32, or None."""
    a = np.float32(np.float64(t) * 127)
    for k in range(-4, 5):
        c = a
        step = np.float32(np.inf) if k > 0 else np.float32(-np.inf)
        for _ in range(abs(k)):
            c = np.nextafter(c, step)
        if c / F32_127 == t:
            return c
    return None


def tie_blocks():
    """(blocks, parities): one 32-float block per tie whose amax exists."""
    rng = np.random.default_rng(12)
    blocks, odd = [], []
    for t in _f16_tie_targets():
        tie, below = _is_tie(t)
        assert tie, t
        a = _amax_for(t)
        if a is None:
            continue
        b = (rng.uniform(-1, 1, 32) * a).astype(np.float32)
        b[rng.integers(32)] = a if rng.integers(2) else -a
        assert np.abs(b).max() == a and np.abs(b).max() / F32_127 == t
        blocks.append(b)
        odd.append(int(below.view(np.uint16)) & 1)
    return np.array(blocks), odd


def test_the_blocks_cover_both_parities():
    blocks, odd = tie_blocks()
    assert len(blocks) >= 30 and 10 <= sum(odd) <= len(odd) - 10, (len(blocks), sum(odd))


@pytest.mark.parametrize("layout", ["one block a call", "groups of 8 and 16", "one row"])
def test_q8_0_scale_on_a_float16_tie(simd, threads, layout):
    blocks, _ = tie_blocks()
    if layout == "one block a call":  # each block alone: every level's scalar tail
        calls = [b.reshape(1, 32) for b in blocks]
    elif layout == "groups of 8 and 16":  # whole vector groups, then a tail of 5
        reps = np.concatenate([blocks] * 3)
        calls = [reps[: 16 * (len(reps) // 16) + 5]]
    else:  # one row of every block: the row split among threads
        calls = [blocks.reshape(1, -1)]
    for nthreads in (1, 2):
        threads(nthreads)
        for x in calls:
            raw = ggml.quantize_q8_0(x)
            assert raw.tobytes() == expected_q8_0(x).tobytes(), (simd, layout, nthreads)
    try:
        from gguf import GGMLQuantizationType, quants
    except ImportError:
        return
    for x in calls:
        want = quants.quantize(x, GGMLQuantizationType.Q8_0)
        assert ggml.quantize_q8_0(x).tobytes() == want.tobytes()
