"""A Calibrator shared by threads: every update lands, and the state is the
one the same updates give one after another; copies and pickles keep the
state and get a lock of their own."""

import copy
import pickle
import sys
import threading

import numpy as np
import pytest

import int8q
from int8q import _calibrate

THREADS = 4
TRIALS = 12


def batches(seed):
    """Batches whose ranges grow, so that threads also race to merge bins."""
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((25, 4)) * 2.0 ** (i % 9 - 4)).astype(np.float32) for i in range(32)
    ]


def fed_by_threads(cal, parts):
    barrier = threading.Barrier(len(parts))
    errors = []

    def work(part):
        try:
            barrier.wait()
            for b in part:
                cal.update(b)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return cal


@pytest.fixture
def busy_switching():
    """Switch threads as often as the interpreter allows (the race needs a
    switch between reading and writing the state)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.parametrize("method", _calibrate.METHODS)
@pytest.mark.parametrize("axis, symmetric", [(None, True), (1, False)])
def test_threads_lose_no_update(method, axis, symmetric, busy_switching):
    parts = [batches(seed) for seed in range(THREADS)]
    kw = dict(axis=axis, symmetric=symmetric, bins=128)
    ref = int8q.Calibrator(method, **kw)
    for part in parts:
        for b in part:
            ref.update(b)
    total = sum(b.size for part in parts for b in part)
    for _ in range(TRIALS):
        cal = fed_by_threads(int8q.Calibrator(method, **kw), parts)
        assert cal.count == total
        if cal._hist is not None:
            assert int(cal._hist.sum()) == total
            assert cal._hist.tobytes() == ref._hist.tobytes()
        assert cal.to_dict() == ref.to_dict()
        assert cal.scale.tobytes() == ref.scale.tobytes()


def test_dask_updates_from_threads(busy_switching):
    da = pytest.importorskip("dask.array")
    import dask

    x = np.concatenate(batches(7))
    ref = int8q.Calibrator("percentile", axis=1, bins=64).update(x)
    with dask.config.set(scheduler="synchronous"):
        cal = fed_by_threads(
            int8q.Calibrator("percentile", axis=1, bins=64),
            [[da.from_array(part, chunks=(30, 3))] for part in np.array_split(x, THREADS)],
        )
    assert cal._hist.tobytes() == ref._hist.tobytes()
    assert cal.to_dict() == ref.to_dict()


@pytest.mark.parametrize("method", _calibrate.METHODS)
def test_copies_and_pickles_have_their_own_lock(method):
    cal = int8q.Calibrator(method, axis=-1).update(batches(1)[0])
    for other in (copy.copy(cal), copy.deepcopy(cal), pickle.loads(pickle.dumps(cal))):
        assert other._lock is not cal._lock
        assert other.to_dict() == cal.to_dict()
    twin = pickle.loads(pickle.dumps(cal))
    twin.update(batches(2)[0])  # the copy streams on; the original is untouched
    assert twin.count == 2 * cal.count
