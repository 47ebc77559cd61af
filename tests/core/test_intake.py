"""The intake (int8q/_checks.py): the options and parameters every entry
point takes are checked once, with one message per mistake."""

import numpy as np
import pytest

import int8q
from int8q import _checks, _checks_options


@pytest.mark.parametrize("n", [2**40, _checks_options.MAX_THREADS + 1])
def test_thread_count_above_the_maximum_is_refused(n):
    before = int8q.get_num_threads()
    with pytest.raises(ValueError, match="number of threads"):
        int8q.set_num_threads(n)
    assert int8q.get_num_threads() == before
    int8q.quantize(np.ones(4, np.float32))  # later calls still work


@pytest.mark.parametrize("n", [2.7, "3", True, None, 3.0])
def test_thread_count_must_be_an_integer(n):
    before = int8q.get_num_threads()
    with pytest.raises(TypeError, match="number of threads must be an integer"):
        int8q.set_num_threads(n)
    assert int8q.get_num_threads() == before


def test_thread_count_takes_numpy_integers(threads):
    int8q.set_num_threads(np.int64(2))
    assert int8q.get_num_threads() in (1, 2)  # 1 in a serial build
    assert type(int8q.get_num_threads()) is int


@pytest.mark.parametrize("name", [["avx2"], 3, None, np.array(["baseline", "avx2"])])
def test_set_simd_refuses_non_names(name):
    before = int8q.get_simd()
    with pytest.raises(ValueError, match="SIMD level must be one of"):
        int8q.set_simd(name)
    assert int8q.get_simd() == before


@pytest.mark.parametrize("block_size", [2**63, 2**70, _checks.MAX_BLOCK_SIZE + 1])
def test_block_size_beyond_the_maximum_is_refused(block_size):
    with pytest.raises(ValueError, match="block_size must be <="):
        int8q.quantize(np.ones(4, np.float32), block_size=block_size)
    with pytest.raises(ValueError, match="block_size must be <="):
        int8q.absmax(np.ones(4, np.float32), block_size=block_size)


def test_block_size_at_the_maximum_is_taken():
    qt = int8q.quantize(np.arange(1.0, 5.0, dtype=np.float32), block_size=_checks.MAX_BLOCK_SIZE)
    assert qt.scale.shape == (1,)


MASKED = np.ma.array([0.5], mask=[True])


@pytest.mark.parametrize("scale", [MASKED, np.ma.array(0.5)])
def test_masked_scale_is_refused(scale):
    for call in (
        lambda: int8q.quantize(np.ones(1), scale=scale),
        lambda: int8q.quantize(np.ones(1), scale=scale, zero_point=0),
        lambda: int8q.dequantize(np.ones(1, np.int8), scale),
        lambda: int8q.dequantize(np.ones(1, np.int8), scale, zero_point=0),
    ):
        with pytest.raises(TypeError, match="scale is a masked array"):
            call()


@pytest.mark.parametrize("zp", [np.ma.array([3], mask=[True]), np.ma.array(3)])
def test_masked_zero_point_is_refused(zp):
    with pytest.raises(TypeError, match="zero_point is a masked array"):
        int8q.quantize(np.ones(1), scale=0.5, zero_point=zp)
    with pytest.raises(TypeError, match="zero_point is a masked array"):
        int8q.dequantize(np.ones(1, np.int8), np.float32(0.5), zero_point=zp)


def test_object_zero_point_is_refused_as_a_type():
    # An object array is refused whatever it holds (5 is in range).
    for zp in (np.array(5, dtype=object), np.array([5], dtype=object)):
        with pytest.raises(TypeError, match="zero_point must be integers, got dtype object"):
            int8q.quantize(np.ones(1), scale=0.5, zero_point=zp)
        with pytest.raises(TypeError, match="zero_point must be integers, got dtype object"):
            int8q.dequantize(np.ones(1, np.int8), np.float32(0.5), zero_point=zp)


def test_python_ints_beyond_int64_are_out_of_range():
    for zp in (2**70, [1, -(2**70)]):
        with pytest.raises(ValueError, match="zero_point must lie in"):
            int8q.quantize(np.ones(2), scale=0.5, zero_point=zp)


def test_object_scale_is_refused_as_a_type():
    for scale in (np.array(0.5, dtype=object), np.array([0.5], dtype=object)):
        with pytest.raises(TypeError, match="scale must be real numbers, got dtype object"):
            int8q.quantize(np.ones(1), scale=scale)
        with pytest.raises(TypeError, match="scale must be"):
            int8q.dequantize(np.ones(1, np.int8), scale)


def test_io_refuses_a_block_size_its_reader_would_refuse(tmp_path):
    import int8q.io

    np.save(tmp_path / "w.npy", np.ones((4, 8), np.float32))
    with pytest.raises(ValueError, match="block_size must be <="):
        int8q.io.quantize_file(tmp_path / "w.npy", tmp_path / "q.npz", block_size=2**63)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npy"]
    # The largest block size is written and read back.
    int8q.io.quantize_file(
        tmp_path / "w.npy", tmp_path / "q.npz", block_size=_checks.MAX_BLOCK_SIZE
    )
    int8q.io.dequantize_file(tmp_path / "q.npz", tmp_path / "back.npy")
    assert np.load(tmp_path / "back.npy").shape == (4, 8)


def test_broadcast_shape_of_parameters_not_in_memory():
    """The shape check of a lazy (Dask) zero point: fine where it broadcasts
    to the scale shape, the one message where it does not or would grow it."""
    _checks.broadcast_shape((1, 3), (2, 3), "zero_point")
    _checks.broadcast_shape((2, 3), (2, 3), "zero_point")
    for given in [(4,), (2, 2, 3)]:
        with pytest.raises(
            ValueError,
            match=r"zero_point of shape .* does not broadcast to the scale shape \(2, 3\)",
        ):
            _checks.broadcast_shape(given, (2, 3), "zero_point")
