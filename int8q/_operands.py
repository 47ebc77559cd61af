"""How the public functions take their array operands (docs/safety.md).

- CPU torch tensors (any dtype .numpy() reads, and bfloat16) are read
  through a NumPy view of their memory (`from_torch`): no copy where the
  layout allows, requires_grad included; bfloat16 comes as ml_dtypes'
  bfloat16 when ml_dtypes is installed, else as float32 (exact).  torch is
  never imported by int8q: a tensor is recognised through sys.modules.
  Tensors on another device (CUDA, meta) are refused with TypeError.
- Masked arrays are refused with TypeError: int8q computes on every element,
  so it would quantize the values under the mask (``np.asarray`` drops the
  mask silently).  Fill or compress them first.
- ``out=`` is an ndarray, or a subclass that stores its elements like one
  (np.memmap writes through to its file).  np.matrix (always 2-D, so it
  cannot be viewed flat) and masked arrays are refused with TypeError.
  Other subclasses passed as *inputs* (np.matrix included) are read as plain
  arrays.
- An input that shares memory with an output is copied first, so the result
  is the one the reference gives, as NumPy's ufuncs promise ("as if the
  inputs were copied first").  Without the copy, the kernels would read
  values they had already overwritten, and the result would depend on the
  thread count and the chunking.

This module converts and copies; the refusals are checks of _checks.py
(refuse_masked, cpu_tensor, check_out), which it calls.
"""

import sys
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.exceptions import TooHardError

from ._checks import cpu_tensor, refuse_masked
from ._dtypes import bf16_to_float32

# np.shares_memory solves a small integer program; this bounds its work.
# Past it, the arrays are taken to overlap (a copy too many, never a wrong
# result).
MAX_OVERLAP_WORK = 1000


def as_input(x: npt.ArrayLike, what: str = "x") -> npt.NDArray[Any]:
    """`x` as a plain ndarray; TypeError for a masked array."""
    if type(x) is np.ndarray:  # the common call: nothing to check or convert
        return x
    refuse_masked(x, what)
    if is_torch_tensor(x):
        return from_torch(x, what)
    return np.asarray(x)


def is_torch_tensor(x: object) -> bool:
    """Whether `x` is a torch.Tensor (torch is looked up, never imported:
    a tensor exists only where torch already is)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def from_torch(t: Any, what: str) -> npt.NDArray[Any]:
    """A CPU torch tensor as an ndarray sharing its memory where it can.

    ``.numpy()`` refuses tensors that require grad (``detach`` shares the
    memory) and bfloat16, which NumPy lacks: its bits are read as int16 and
    viewed as ml_dtypes.bfloat16, or widened to float32 (exactly) without
    ml_dtypes.
    """
    import torch  # already imported: `t` is one of its tensors

    cpu_tensor(t, what)
    t = t.detach().resolve_conj().resolve_neg()  # no copy unless a lazy bit is set
    try:
        if t.dtype != torch.bfloat16:
            return t.numpy()  # type: ignore[no-any-return]
        bits = t.view(torch.int16).numpy().view(np.uint16)
    except (TypeError, RuntimeError) as exc:
        raise TypeError(f"{what}: int8q cannot read a torch tensor of {t.dtype}: {exc}") from None
    try:
        import ml_dtypes
    except ImportError:
        return bf16_to_float32(bits)
    values: npt.NDArray[Any] = bits.view(ml_dtypes.bfloat16)  # (ml_dtypes is untyped)
    return values


def overlaps(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    """Whether arrays `a` and `b` may share memory (the cheap bounds test
    first, the exact one only when the bounds overlap)."""
    if not np.may_share_memory(a, b):
        return False
    try:
        # NumPy's stubs allow only max_work -1 or 0; the function takes any bound.
        return bool(np.shares_memory(a, b, max_work=MAX_OVERLAP_WORK))  # type: ignore[arg-type]
    except TooHardError:
        return True


def apart(x: npt.NDArray[Any], *outs: npt.NDArray[Any] | None) -> npt.NDArray[Any]:
    """`x`, or a copy of it when it shares memory with any of `outs` (None skipped)."""
    if any(out is not None and overlaps(x, out) for out in outs):
        copy: npt.NDArray[Any] = x.copy()  # (typed: ndarray.copy gives Self, Any for 3.10)
        return copy
    return x
