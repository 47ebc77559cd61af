"""The codec's chunk format (int8q.codec) under hostile bytes.

Invariant: decoding any bytes gives a ValueError, or exactly ``q * scale``
in a dtype the codec writes.  Never another exception, never a warning.
"""

import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import mutated

numcodecs = pytest.importorskip("numcodecs")

from int8q.codec import Int8QCodec, decode_chunk  # noqa: E402

CODEC = Int8QCodec()
SEEDS = [
    CODEC.encode(np.array([1.5, -2.0, 0.25, 0.0], dtype))
    for dtype in (np.float16, np.float32, ">f8")
]


def chunk(code=b"<f4", scale=0.5, q=b"\x01\x02\x81", version=1, magic=b"I8Q\0"):
    return struct.pack("<4sB3sd", magic, version, code, scale) + q


def check_decodes_or_value_error(buf):
    try:
        out = CODEC.decode(buf)
    except ValueError:
        return
    q, scale, dtype = decode_chunk(buf)
    assert out.dtype == dtype and dtype.str[1:] in ("f2", "f4", "f8")
    work = np.float64 if dtype.itemsize == 8 else np.float32
    with np.errstate(over="ignore"):  # a float16 original may overflow to inf
        want = (q.astype(work) * work(scale)).astype(dtype)
    assert out.tobytes() == want.tobytes()


@pytest.mark.parametrize(
    "code",
    [
        b"(,)",
        b"(1,",
        b"[f4",
        b"f4(",
        b"<c8",
        b"<i4",
        b"|f4",
        b"=f4",
        b"<V4",
        b"\xff\xfe\xfd",
        b"f4\0",
        b"<f1",
        b"O\0\0",
    ],
)
def test_malformed_dtype_code_is_a_value_error(code):
    with pytest.raises(ValueError, match="dtype"):
        CODEC.decode(chunk(code=code))


@pytest.mark.parametrize(
    "code, scale",
    [
        (b"<f4", float("nan")),
        (b"<f4", float("inf")),
        (b"<f8", -float("inf")),
        (b"<f4", 0.0),
        (b"<f4", -0.5),
        (b"<f4", 1e39),
        (b"<f2", 0.1),
        (b"<f8", -1.0),
    ],
)
def test_corrupt_scale_is_a_value_error(code, scale):
    with pytest.raises(ValueError, match="scale"):
        CODEC.decode(chunk(code=code, scale=scale))


@pytest.mark.parametrize("seed", range(len(SEEDS)))
@settings(
    max_examples=int(os.environ.get("INT8Q_FUZZ_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_mutated_chunks(seed, data):
    check_decodes_or_value_error(data.draw(mutated(SEEDS[seed])))
