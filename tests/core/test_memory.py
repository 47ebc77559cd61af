"""Temporaries: none full-size for C-contiguous float32, bounded otherwise.

NumPy reports its buffers to tracemalloc, so the traced peak minus the
outputs is what the call used on the side.
"""

import tracemalloc

import numpy as np
import pytest

import int8q

MiB = 1 << 20


def output_bytes(result):
    if isinstance(result, tuple):
        return sum(output_bytes(r) for r in result)
    if isinstance(result, int8q.QTensor):
        return result.q.nbytes + result.scale.nbytes
    return result.nbytes


def traced_peak(func):
    """Peak traced memory of func() (what it returns included), and what it
    returned."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = func()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak, result


def extra_peak(func):
    """Peak traced memory of func() beyond the arrays it returns."""
    peak, result = traced_peak(func)
    return peak - output_bytes(result)


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"block_size": 32}])
def test_c_contiguous_float32_allocates_only_outputs(kw):
    x = np.ones((4096, 4096), np.float32)  # 64 MiB
    extra = extra_peak(lambda: int8q.quantize(x, **kw))
    assert extra < 1 * MiB, extra


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.ones((4096, 4096), np.float16),
        lambda: np.ones((4096, 8192), np.float32)[:, ::2],
        lambda: np.asfortranarray(np.ones((4096, 4096), np.float32)),
        lambda: np.ones((4096, 4096), ">f4"),
        lambda: np.ones((4096, 4096), np.int32),
    ],
)
@pytest.mark.parametrize("kw", [{}, {"axis": 1}, {"block_size": 32}])
def test_other_layouts_use_bounded_chunks(make, kw):
    x = make()
    extra = extra_peak(lambda: int8q.quantize(x, **kw))
    assert extra < 16 * MiB, extra


def test_quantize_dequantize_adds_only_its_outputs():
    x = np.ones((2048, 4096), np.float32)
    extra = extra_peak(lambda: int8q.quantize_dequantize(x))
    assert extra < 1 * MiB, extra


@pytest.mark.parametrize("kw", [{"block_size": 32}, {"axis": 0, "block_size": 32}, {"axis": 1}])
def test_given_scales_into_out_check_without_an_absmax_per_scale(kw):
    # Writing into out=, the call reads x once for NaN/inf before writing.
    # That pass keeps one abs-max, not one per scale: what it allocates on
    # the side is the zero points the kernel reads (one int32 per scale)
    # and small change, not another array of the scales' size (which it was,
    # 3.5x the scales' bytes in all, with per-thread rows in C besides).
    x = np.ones((4096, 4096), np.float32)
    q = np.empty(x.shape, np.int8)
    scale = int8q.quantize(x, **kw).scale
    peak, _ = traced_peak(lambda: int8q.quantize(x, scale=scale, out=q, **kw))
    assert peak < 3 * max(scale.nbytes, 64 << 10), (peak, scale.nbytes)
