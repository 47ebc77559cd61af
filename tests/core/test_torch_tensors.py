"""CPU torch tensors as inputs: the same bits as the same values in NumPy.

int8q reads a tensor through a NumPy view of its memory (bfloat16 through
its bits), returns NumPy arrays, and never imports torch itself.  Skipped
without torch.
"""

import subprocess
import sys

import numpy as np
import pytest

import int8q

torch = pytest.importorskip("torch")
ml_dtypes = pytest.importorskip("ml_dtypes")

pytestmark = pytest.mark.torch

DTYPES = {
    torch.float32: np.float32,
    torch.float16: np.float16,
    torch.bfloat16: ml_dtypes.bfloat16,
}
GRANULARITIES = [{}, {"axis": 0}, {"axis": 1}, {"block_size": 7}, {"block_size": 64}]
ROUNDINGS = ["half_even", "half_away"]


def same(a, b):
    """Same type (ndarray), dtype, shape and bytes."""
    return (
        type(a) is np.ndarray
        and type(b) is np.ndarray
        and a.dtype == b.dtype
        and a.shape == b.shape
        and a.tobytes() == b.tobytes()
    )


def as_numpy(t):
    """The tensor's values as a NumPy array of the matching dtype, computed
    without int8q (bfloat16 through float32, which holds it exactly)."""
    if t.dtype == torch.bfloat16:
        return t.detach().float().numpy().astype(ml_dtypes.bfloat16)
    return t.detach().numpy().copy()


def tensors(dtype):
    """A contiguous tensor with ties and extremes, and non-contiguous views of it."""
    g = torch.Generator().manual_seed(0)
    t = torch.randn(37, 130, generator=g) * 3
    t[0, :4] = torch.tensor([0.5, -0.5, 2.5, -1.5])  # ties under a scale of 1
    t[5, 7] = 100.0
    t = t.to(dtype)
    return {
        "contiguous": t,
        "transposed": t.T,
        "strided": t[::2, 1::3],
        "requires_grad": t.clone().requires_grad_(True),
    }


@pytest.mark.parametrize("dtype", list(DTYPES), ids=str)
@pytest.mark.parametrize("kw", GRANULARITIES, ids=str)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_quantize_matches_numpy(dtype, kw, rounding):
    for label, t in tensors(dtype).items():
        x = as_numpy(t)
        if "axis" in kw and kw["axis"] >= x.ndim:
            continue
        want = int8q.quantize(x, rounding=rounding, **kw)
        got = int8q.quantize(t, rounding=rounding, **kw)
        assert same(got.q, want.q) and same(got.scale, want.scale), label
        want_qt, want_d = int8q.quantize_dequantize(x, rounding=rounding, **kw)
        got_qt, got_d = int8q.quantize_dequantize(t, rounding=rounding, **kw)
        assert same(got_qt.q, want_qt.q) and same(got_d, want_d), label
        assert same(int8q.absmax(t, **kw), int8q.absmax(x, **kw)), label


@pytest.mark.parametrize("dtype", list(DTYPES), ids=str)
@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"block_size": 7}], ids=str)
def test_dequantize_matches_numpy(dtype, kw):
    x = as_numpy(tensors(torch.float32)["contiguous"])
    qt = int8q.quantize(x, **kw)
    q = torch.from_numpy(qt.q.copy())
    scale = torch.from_numpy(qt.scale.astype(np.float32)).to(dtype)
    want = int8q.dequantize(qt.q, as_numpy(scale), **kw)
    assert same(int8q.dequantize(q, scale, **kw), want)
    assert same(int8q.dequantize(q.T.contiguous().T, scale, **kw), want)  # non-contiguous q


def test_int8_quantize_takes_a_tensor():
    values = [1.0, -1.0, 0.5, -0.5]
    want = int8q.int8_quantize(values)
    for dtype in DTYPES:
        assert int8q.int8_quantize(torch.tensor(values, dtype=dtype)) == want, dtype
    assert int8q.int8_quantize(torch.tensor(values, requires_grad=True)) == want


def test_requires_grad_is_read_without_a_copy():
    from int8q._operands import as_input

    for dtype in DTYPES:
        t = tensors(dtype)["strided"].clone().requires_grad_(True)
        t = t[:, ::2]  # a non-contiguous view that requires grad
        a = as_input(t)
        assert a.__array_interface__["data"][0] == t.data_ptr(), dtype
        assert a.strides == tuple(s * t.element_size() for s in t.stride())


def test_bfloat16_without_ml_dtypes_is_float32_of_the_same_values(tmp_path):
    """Without ml_dtypes a bfloat16 tensor is read as float32 (exact), and
    quantizes to the same bits."""
    script = """
import sys
sys.modules["ml_dtypes"] = None  # `import ml_dtypes` now raises ImportError
import numpy as np, torch, int8q
t = (torch.randn(9, 70, generator=torch.Generator().manual_seed(1)) * 5).to(torch.bfloat16)
for view in (t, t.T, t[::2, 1::3]):
    x = view.float().numpy()
    for kw in ({}, {"axis": 0}, {"block_size": 16}):
        a, b = int8q.quantize(view, **kw), int8q.quantize(x, **kw)
        assert a.q.tobytes() == b.q.tobytes() and a.scale.tobytes() == b.scale.tobytes(), kw
        assert a.scale.dtype == np.float32
print("ok")
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


@pytest.mark.parametrize("device", ["meta", "cuda"])
def test_other_devices_are_a_type_error(device):
    if device == "cuda" and not torch.cuda.is_available():
        # A CUDA tensor cannot be made on a machine without one; the meta
        # device goes through the same check (device type other than "cpu").
        pytest.skip("no CUDA device")
    t = torch.ones(4, 8, device=device)
    for call in (
        lambda: int8q.quantize(t),
        lambda: int8q.quantize_dequantize(t),
        lambda: int8q.absmax(t),
        lambda: int8q.dequantize(torch.ones(4, 8, dtype=torch.int8, device=device), 1.0),
        lambda: int8q.int8_quantize(t.reshape(-1)),
    ):
        with pytest.raises(TypeError, match=f"torch tensor on device '{device}'"):
            call()


def test_sparse_and_unsupported_dtypes_are_a_type_error():
    with pytest.raises(TypeError, match="layout"):
        int8q.quantize(torch.eye(4).to_sparse())
    with pytest.raises(TypeError, match="complex|real numbers"):
        int8q.quantize(torch.ones(4, dtype=torch.complex64))


def test_results_are_numpy_and_from_numpy_shares_them():
    qt = int8q.quantize(torch.randn(4, 8), axis=0)
    assert type(qt.q) is np.ndarray and type(qt.scale) is np.ndarray
    back = torch.from_numpy(qt.q)
    back[0, 0] = 5
    assert qt.q[0, 0] == 5  # the same memory, as docs/semantics.md says


def test_import_int8q_does_not_import_torch(tmp_path):
    script = "import sys, int8q, int8q.io; print('torch' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, "False"), proc.stderr
