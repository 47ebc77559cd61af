"""Zarr 3 arrays stored as int8 plus one scale per chunk.

Needs the optional dependencies zarr>=3 and numcodecs
(``pip install "int8q[zarr]"``).  `Int8QZarrCodec` is a Zarr array-to-bytes
codec named ``"int8q"``; int8q registers it in the ``zarr.codecs`` entry-point
group, so any program with int8q installed opens such an array with plain
``zarr.open_array`` and reads floats back.  Each stored chunk is the
`int8q.codec` format: a 16-byte header (magic, version, dtype, scale) and the
int8 values.

    >>> import numpy as np, zarr, int8q.zarr
    >>> x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8)
    >>> z = int8q.zarr.create_array(zarr.storage.MemoryStore(), data=x, chunks=(4, 8))
    >>> z.metadata.codecs[0].to_dict()
    {'name': 'int8q', 'configuration': {'rounding': 'half_even'}}
    >>> float(np.abs(z[...] - x).max()) <= 0.5 / 127
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import numpy.typing as npt
import zarr
from zarr.abc.codec import ArrayBytesCodec
from zarr.core.common import parse_named_configuration
from zarr.registry import register_codec

from . import dequantize
from ._shared import (
    fill_value,
    find_nonfinite,
    nonfinite_error,
    refuse_masked,
    rounding_code,
    serializer_option,
    stored_dtype,
    working_dtype,
)
from ._typing import Rounding
from .codec import HEADER, check_dtype, decode_chunk, encode_chunk

if TYPE_CHECKING:  # zarr's own modules for these types, imported only for mypy
    from typing_extensions import Self
    from zarr.core.array_spec import ArraySpec
    from zarr.core.buffer import Buffer, NDArrayLike, NDBuffer
    from zarr.core.chunk_grids import ChunkGrid
    from zarr.core.common import JSON
    from zarr.core.dtype import ZDType
    from zarr.core.dtype.wrapper import TBaseDType, TBaseScalar
    from zarr.storage import StoreLike
    from zarr.types import AnyArray

__all__ = ["Int8QZarrCodec", "create_array"]

CODEC_NAME = "int8q"


@dataclass(frozen=True)
class Int8QZarrCodec(ArrayBytesCodec):
    """Zarr 3 array-to-bytes codec: symmetric INT8, one scale per chunk.

    Parameters
    ----------
    rounding : {"half_even", "half_away"}
        How ``x / scale`` is rounded when a chunk is written.

    Notes
    -----
    Zarr stores edge chunks at full size, padded with the array's fill
    value; the padding takes part in the chunk's abs-max, so a fill value
    must be finite (zero, the default, changes nothing).

    Examples
    --------
    >>> from int8q.zarr import Int8QZarrCodec
    >>> Int8QZarrCodec(rounding="half_away").to_dict()
    {'name': 'int8q', 'configuration': {'rounding': 'half_away'}}
    """

    is_fixed_size = True

    rounding: Rounding = "half_even"

    def __init__(self, *, rounding: Rounding = "half_even") -> None:
        rounding_code(rounding)
        object.__setattr__(self, "rounding", rounding)

    @classmethod
    def from_dict(cls, data: dict[str, JSON]) -> Self:
        _, configuration = parse_named_configuration(data, CODEC_NAME, require_configuration=False)
        # JSON from the metadata: __init__ checks the keys and the rounding.
        return cls(**cast("dict[str, Any]", configuration or {}))

    def to_dict(self) -> dict[str, JSON]:
        return {"name": CODEC_NAME, "configuration": {"rounding": self.rounding}}

    def validate(
        self,
        *,
        shape: tuple[int, ...],
        dtype: ZDType[TBaseDType, TBaseScalar],
        chunk_grid: ChunkGrid,
    ) -> None:
        check_dtype(dtype.to_native_dtype())

    def _decode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        q, scale, _ = decode_chunk(chunk_bytes.as_numpy_array())
        if q.size != int(np.prod(chunk_spec.shape)):
            raise ValueError(
                f"int8q chunk holds {q.size} values, expected {int(np.prod(chunk_spec.shape))}"
            )
        out = dequantize(
            q.reshape(chunk_spec.shape), scale, dtype=chunk_spec.dtype.to_native_dtype()
        )
        # An ndarray is what NDArrayLike describes, but NumPy's stubs for
        # ndarray.all do not match zarr's protocol.
        buffer: NDBuffer = chunk_spec.prototype.nd_buffer.from_ndarray_like(
            cast("NDArrayLike", out)
        )
        return buffer  # (typed: zarr's Self is Any to mypy for Python 3.10)

    def _encode_sync(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        chunk = chunk_array.as_numpy_array()
        try:
            # encode_chunk stores C order whatever the chunk's memory layout
            # (config order "F"): _decode_sync reads a Zarr 3 chunk's bytes
            # so; reordering axes is the transpose codec's business.
            encoded = encode_chunk(chunk, self.rounding)
        except ValueError:
            # Zarr tells a codec nothing of where its chunk lies: name the
            # place in the chunk as such, not as a place in the array.
            found = find_nonfinite(chunk, working_dtype(chunk.dtype))
            if found is None:
                raise
            raise nonfinite_error(*found, what="chunk") from None
        buffer: Buffer = chunk_spec.prototype.buffer.from_bytes(encoded)
        return buffer  # (typed: zarr's Self is Any to mypy for Python 3.10)

    # Zarr's pipeline awaits these; the work is CPU-bound and quick per chunk.
    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        return self._decode_sync(chunk_bytes, chunk_spec)

    async def _encode_single(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        return self._encode_sync(chunk_array, chunk_spec)

    def compute_encoded_size(self, input_byte_length: int, chunk_spec: ArraySpec) -> int:
        itemsize = chunk_spec.dtype.to_native_dtype().itemsize
        return HEADER.size + input_byte_length // itemsize


# The entry point makes zarr find the codec in any process with int8q
# installed; registering here as well covers an int8q that was imported
# without being installed (zarr keys classes by qualified name, so the two
# registrations are one).
register_codec(CODEC_NAME, Int8QZarrCodec)


def create_array(
    store: StoreLike,
    *,
    data: npt.NDArray[Any] | None = None,
    chunks: tuple[int, ...] | Literal["auto"] = "auto",
    rounding: Rounding = "half_even",
    **kwargs: Any,
) -> AnyArray:
    """Create a Zarr 3 array whose chunks are stored as int8 plus a scale.

    Reading it (``zarr.open_array(store)[...]``) gives floats of the array's
    dtype, each within ``scale / 2`` of what was written, ``scale`` being
    its chunk's ``absmax / 127``.

    Parameters
    ----------
    store : zarr store or path
        Anything `zarr.create_array` accepts.
    data : ndarray of float16, float32 or float64, optional
        Written at once; otherwise pass ``shape=`` and ``dtype=``.
    chunks : tuple of int or "auto"
        The chunk shape; one scale per chunk.
    rounding : {"half_even", "half_away"}
    **kwargs
        Passed to `zarr.create_array` (``name``, ``shape``, ``dtype``,
        ``overwrite``, ``attributes``, ``compressors``...).  No compressor
        is added unless given: int8 data barely compresses.

    Returns
    -------
    zarr.Array

    Raises
    ------
    TypeError
        A dtype other than float16/32/64, masked `data`, or a
        ``serializer=`` argument.
    ValueError
        A fill value that is not finite in the array's dtype; NaN or inf in
        `data` (named by its place in `data`).

    Examples
    --------
    >>> import numpy as np, zarr, int8q.zarr
    >>> x = np.random.default_rng(0).standard_normal((100, 64)).astype(np.float32)
    >>> z = int8q.zarr.create_array(zarr.storage.MemoryStore(), data=x, chunks=(50, 64))
    >>> back = z[...]
    >>> back.dtype == np.float32, bool(np.abs(back - x).max() <= np.abs(x).max() / 254)
    (True, True)
    """
    # The dtype is checked by the codec's `validate` when zarr builds the
    # metadata; everything else here, before anything is written.
    serializer_option(kwargs)
    if data is not None:
        refuse_masked(data, "x")
    # Before Zarr resolves it (it refuses an object dtype with its own ValueError).
    stored_dtype(kwargs.get("dtype") if data is None else getattr(data, "dtype", None))
    fill = kwargs.get("fill_value")
    if fill is not None:
        fill_value(fill, kwargs.get("dtype") if data is None else getattr(data, "dtype", None))
    if isinstance(data, np.ndarray) and data.dtype.kind == "f":
        # NaN/inf named by its place in `data` (a chunk's codec cannot), and
        # found before a chunk is stored.
        found = find_nonfinite(data, working_dtype(data.dtype))
        if found is not None:
            raise nonfinite_error(*found)
    kwargs.setdefault("compressors", None)
    return zarr.create_array(
        store, data=data, chunks=chunks, serializer=Int8QZarrCodec(rounding=rounding), **kwargs
    )
