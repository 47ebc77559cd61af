"""Concurrent calls from several Python threads (the kernels drop the GIL)."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import int8q
from int8q import reference


def test_concurrent_calls_match_serial():
    rng = np.random.default_rng(11)
    inputs = [(rng.standard_normal((257, 1031)) * (i + 1)).astype(np.float32) for i in range(8)]
    kws = [{}, {"axis": 0}, {"block_size": 32}, {"axis": 1}] * 2
    expected = [reference.quantize(x, **kw) for x, kw in zip(inputs, kws)]

    def work(i):
        qt = int8q.quantize(inputs[i], **kws[i])
        seed = int8q.int8_quantize(inputs[i][0].tolist())
        return qt, seed

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            results = list(pool.map(work, range(len(inputs))))
            for i, (qt, seed) in enumerate(results):
                np.testing.assert_array_equal(qt.q, expected[i][0])
                np.testing.assert_array_equal(qt.scale, expected[i][1])
                assert seed == reference.int8_quantize(inputs[i][0].tolist())


def test_set_num_threads_validates(threads):
    import pytest

    with pytest.raises(ValueError):
        int8q.set_num_threads(0)
    threads(3)
    assert int8q.get_num_threads() in (1, 3)  # 1 in a serial build
