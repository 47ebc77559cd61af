"""The add-ons (int8q.dask, int8q.codec, int8q.zarr, int8q.ggml) refuse what
int8q.quantize refuses, with the same exception type and message, and name
positions in the caller's array."""

import re

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
pytest.importorskip("numcodecs")

import int8q  # noqa: E402
import int8q.codec  # noqa: E402
import int8q.dask  # noqa: E402
from int8q.codec import Int8QCodec  # noqa: E402

BAD_SCALES = [0, np.nan, -1, np.inf, "0.5", 1e-300, np.array(0.5, dtype=object)]


def refusal(call):
    """(exception type, message) of call(), which must raise."""
    with pytest.raises(Exception) as info:
        call()
    return type(info.value), str(info.value)


def x_np():
    return np.arange(1, 13, dtype=np.float32).reshape(3, 4)


@pytest.mark.parametrize("scale", BAD_SCALES, ids=repr)
def test_dask_refuses_bad_scalar_scales_as_quantize_does(scale):
    want = refusal(lambda: int8q.quantize(x_np(), scale=scale))
    x = da.from_array(x_np(), chunks=2)
    assert refusal(lambda: int8q.dask.quantize(x, scale=scale)) == want


@pytest.mark.parametrize("bad", [0.0, np.nan, -1.0, np.inf, 1e-300])
def test_dask_refuses_bad_scale_arrays_as_quantize_does(bad):
    scale = np.array([0.1, 0.2, bad])
    want = refusal(lambda: int8q.quantize(x_np(), axis=0, scale=scale))
    x = da.from_array(x_np(), chunks=2)
    assert refusal(lambda: int8q.dask.quantize(x, axis=0, scale=scale)) == want
    # A Dask scale array is checked when computed, naming its place in the
    # caller's array (index 2: in the second chunk of the scale).
    lazy = int8q.dask.quantize(x, axis=0, scale=da.from_array(scale, chunks=2))
    assert refusal(lambda: lazy.q.compute(scheduler="threads")) == want


@pytest.mark.parametrize("scale", [np.array(["0.5"] * 3), np.array([0.5] * 3, dtype=object)])
def test_dask_scale_array_types_are_checked_at_once(scale):
    x = da.from_array(x_np(), chunks=2)
    want = refusal(lambda: int8q.quantize(x_np(), axis=0, scale=scale))
    assert want[0] is TypeError
    assert refusal(lambda: int8q.dask.quantize(x, axis=0, scale=scale)) == want
    lazy = da.from_array(scale, chunks=2)
    assert refusal(lambda: int8q.dask.quantize(x, axis=0, scale=lazy)) == want


def test_dask_scale_shape_as_quantize():
    x = da.from_array(x_np(), chunks=2)
    scale = np.ones(5, np.float32)
    want = refusal(lambda: int8q.quantize(x_np(), axis=0, scale=scale))
    assert refusal(lambda: int8q.dask.quantize(x, axis=0, scale=scale)) == want
    assert refusal(lambda: int8q.dask.quantize(x, axis=0, scale=da.from_array(scale))) == want
    # A scale that broadcasts is taken, as int8q.quantize takes it.
    for given in (np.float32(0.5), np.full((1,), 0.5, np.float32)):
        got = int8q.dask.quantize(x, axis=0, scale=given).q.compute(scheduler="threads")
        assert np.array_equal(got, int8q.quantize(x_np(), axis=0, scale=given).q)


def test_dask_refuses_masked_chunks():
    x = da.from_array(np.ma.array(x_np(), mask=False), chunks=2)
    want = refusal(lambda: int8q.quantize(np.ma.array(x_np())))
    assert refusal(lambda: int8q.dask.quantize(x)) == want
    scale = np.ma.array([0.5, 0.5, 0.5])
    want = refusal(lambda: int8q.quantize(x_np(), axis=0, scale=scale))
    plain = da.from_array(x_np(), chunks=2)
    assert refusal(lambda: int8q.dask.quantize(plain, axis=0, scale=scale)) == want


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"block_size": 2}])
def test_dask_given_scale_names_nan_in_array_coordinates(kw):
    x = np.ones((8, 8), np.float32)
    x[4, 6] = np.nan
    scale = int8q.quantize(np.ones((8, 8), np.float32), **kw).scale
    qt = int8q.dask.quantize(da.from_array(x, chunks=4), scale=scale, **kw)
    with pytest.raises(ValueError, match=re.escape("x[4, 6] is nan")):
        qt.q.compute(scheduler="threads")


def test_codecs_refuse_masked_arrays_as_quantize_does():
    x = np.ma.array([1.0, 1000.0], mask=[False, True], dtype=np.float32)
    want = refusal(lambda: int8q.quantize(x))
    assert refusal(lambda: Int8QCodec().encode(x)) == want
    assert refusal(lambda: int8q.codec.encode_chunk(x)) == want


@pytest.mark.parametrize("order", [">", "<"])
@pytest.mark.parametrize("kind", ["f2", "f4", "f8"])
def test_codec_byte_order(order, kind):
    codec = Int8QCodec()
    values = np.array([1.0, -2.0, 3.0, 0.25], dtype=kind)
    want = codec.decode(codec.encode(values))
    swapped = values.astype(order + kind)
    assert np.array_equal(codec.decode(codec.encode(swapped)), want)
    out = np.zeros(4, dtype=order + kind)
    got = codec.decode(codec.encode(values), out=out)
    assert got is out or np.shares_memory(got, out)
    assert np.array_equal(out, want)


def test_codec_decode_out_of_another_float_type_is_refused():
    codec = Int8QCodec()
    enc = codec.encode(np.ones(4, np.float32))
    out = np.zeros(4, np.float64)
    with pytest.raises(TypeError, match="out"):
        codec.decode(enc, out=out)
    assert not out.any()


def test_ggml_checks_are_the_intakes():
    from int8q import ggml

    with pytest.raises(ValueError, match="multiple of 32"):
        ggml.quantize_q8_0(np.ones(31, np.float32))
    with pytest.raises(TypeError, match="uint8"):
        ggml.dequantize_q8_0(np.ones(34, np.int8))
    with pytest.raises(TypeError, match="x is a masked array"):
        ggml.quantize_q8_0(np.ma.array(np.ones(32, np.float32)))
