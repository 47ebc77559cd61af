"""The kernels' CRC-32 (int8q._engine.crc32, which .npz reading uses) is
zlib.crc32's, on every SIMD level: every length around the 16- and 64-byte
steps of the folding loop, start values, offsets that misalign the data,
and calls chained over pieces."""

import zlib

import numpy as np
import pytest

import int8q
from int8q import _engine, _kernels

RNG = np.random.default_rng(20261201)
DATA = RNG.integers(0, 256, (1 << 20) + 99, dtype=np.uint8)
LENGTHS = [*range(0, 200), 255, 256, 257, 1000, 4095, 4096, 65536 + 7, (1 << 20) + 3]
STARTS = [0, 1, 0xFFFFFFFF, 0x12345678]


@pytest.mark.parametrize("offset", [0, 1, 7, 15, 16, 63])
def test_matches_zlib(simd, offset):
    for n in LENGTHS:
        piece = DATA[offset : offset + n]
        for start in STARTS:
            assert _engine.crc32(piece, start) == zlib.crc32(piece, start), (n, start)


def test_chained_pieces_equal_one_call(simd):
    crc = 0
    cuts = [0, 5, 64, 65, 1000, 1 << 16, (1 << 16) + 17, DATA.size]
    for lo, hi in zip(cuts, cuts[1:]):
        crc = _engine.crc32(DATA[lo:hi], crc)
    assert crc == zlib.crc32(DATA)


def test_bytes_and_patterns(simd):
    for data in (b"", b"a", b"123456789", bytes(1000), b"\xff" * 333):
        assert _engine.crc32(data) == zlib.crc32(data)
    assert _engine.crc32(b"123456789") == 0xCBF43926  # the CRC-32 check value


def test_x86_levels_have_their_own():
    # The x86 SIMD levels carry the folding CRC-32 (so the tests above run
    # it); the baseline hands over to zlib.
    before = int8q.get_simd()
    try:
        for level in int8q.available_simd():
            int8q.set_simd(level)
            fast = _kernels.crc32(b"x" * 100, 0) is not None
            assert fast == (level in ("avx2", "avx512")), level
    finally:
        int8q.set_simd(before)
