"""int8_quantize(list) -> dict: the dict form (docs/semantics.md §1)."""

from collections.abc import Iterable
from typing import SupportsFloat

from . import _engine
from ._checks import refuse_masked
from ._operands import from_torch, is_torch_tensor
from ._typing import DictForm


def int8_quantize(x: Iterable[SupportsFloat]) -> DictForm:
    """Quantize a flat sequence of real numbers to INT8, returning plain Python.

    float64 arithmetic: ``scale = max|x| / 127`` (1.0 when that is 0),
    ``q = clip(round_half_even(x / scale), -127, 127)``, ``d = q * scale``.

    Parameters
    ----------
    x : sequence or iterable of real numbers (float, int, bool, NumPy
        scalars), a 1-D NumPy array or a 1-D CPU torch tensor.

    Returns
    -------
    dict
        ``{'quantized': list[int], 'scale': round(scale, 6),
        'dequantized': [round(d, 4), ...]}`` using Python's built-in round.

    Raises
    ------
    ValueError
        NaN or inf (the message gives its index), or an int too large for
        float64.
    TypeError
        A non-number element (str, None, complex, nested list), a
        non-sequence argument, or a masked array (its mask would be ignored).

    Examples
    --------
    >>> int8_quantize([1.0, -1.0, 0.5, -0.5])
    {'quantized': [127, -127, 64, -64], 'scale': 0.007874, 'dequantized': [1.0, -1.0, 0.5039, -0.5039]}
    """
    refuse_masked(x, "x")
    if is_torch_tensor(x):  # (iterating one gives 0-d tensors, which are not numbers)
        x = from_torch(x, "x")
    return _engine.seed_quantize(x)
