"""The containers' pipeline (int8q/io/_support/_pipeline.py): reading, converting and
writing at once gives the bytes of doing them one after the other.

`run` is checked on its own (order, the memory budget, reused buffers,
errors from each thread, Ctrl-C); then every container quantizes (and
dequantizes) the same inputs two ways and must write the same bytes: one
item at a time, whole tensors, on the calling thread (the path before the
pipeline), and through the threads with budgets and pieces so small that
every item waits for the others.  Failures in the reader or the writer
thread, mid-file, leave nothing behind.
"""

import contextlib
import errno
import json
import os
import threading

import numpy as np
import pytest
from checkpoints import (
    listing,
    read_safetensors,
    sample_tensors,
    write_raw,
    write_safetensors,
    write_sharded,
)

import int8q.io
from int8q.io import FormatError
from int8q.io._containers import _gguf, _npz, _safetensors_jobs
from int8q.io._support import _pipeline, _reading

# ---- run ------------------------------------------------------------------------


def _alive():
    return [t.name for t in threading.enumerate() if t.name.startswith("int8q-")]


@pytest.fixture
def budget(request, monkeypatch):
    monkeypatch.setattr(_pipeline, "BUDGET", request.param)
    return request.param


@pytest.mark.parametrize("budget", [1, 350, 10_000], indirect=True)
def test_run_keeps_order_and_budget(budget):
    items = list(range(60))
    cost = 100
    in_flight, most, stored = [0], [0], []
    lock = threading.Lock()

    def load(i):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        return i * 2

    def store(i, worked):
        stored.append((i, worked))
        with lock:
            in_flight[0] -= 1

    _pipeline.run(items, load, lambda i, d: d + 1, store, lambda i: cost)
    assert stored == [(i, 2 * i + 1) for i in items]
    # never more in flight than the budget holds, but always one
    assert 1 <= most[0] <= max(1, budget // cost + 1)
    assert not _alive()


def test_reused_buffers_are_never_handed_out_while_in_flight(monkeypatch):
    monkeypatch.setattr(_pipeline, "BUDGET", 5000)
    seen = []

    def load(i):
        a = _pipeline.empty((1000 + i % 3,), np.uint8)  # a few sizes, to mix them
        a[:] = i
        return a

    def work(i, a):
        out = _pipeline.empty(a.shape, np.uint8)
        out[:] = a
        return a, out

    def store(i, pair):
        for a in pair:
            assert (a == i).all(), i
        seen.append(pair[0].__array_interface__["data"][0])

    _pipeline.run(list(range(200)), load, work, store, lambda i: 2000)
    assert len(set(seen)) < 50, "buffers were not reused"


def test_empty_outside_a_pipeline_is_new_memory():
    a = _pipeline.empty((3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32 and a.flags.owndata


class Boom(Exception):
    pass


@pytest.mark.parametrize("step", ["load", "work", "store"])
def test_an_error_in_any_thread_is_raised_as_it_is(step, monkeypatch):
    monkeypatch.setattr(_pipeline, "BUDGET", 300)
    error = Boom("item 7")
    loaded, stored = [], []

    def fail_at_7(name):
        def call(i, *rest):
            if step == name and i == 7:
                raise error
            return rest[0] if rest else i

        return call

    def load(i):
        loaded.append(i)
        return fail_at_7("load")(i)

    def store(i, worked):
        fail_at_7("store")(i, worked)
        stored.append(i)

    with pytest.raises(Boom) as raised:
        _pipeline.run(list(range(40)), load, fail_at_7("work"), store, lambda i: 100)
    assert raised.value is error
    # the items before 7 are stored (when 7 failed to load or convert), none after
    assert stored == list(range(7))
    assert max(loaded) < 7 + 5  # reading stopped within the budget's reach
    assert not _alive()


def test_the_first_error_in_item_order_wins():
    """A store fails at item 3 while the conversion of item 5 fails: as one
    after the other, the store's error is the one raised."""
    gate = threading.Event()

    def work(i, d):
        if i == 5:
            gate.wait(10)  # item 3's store has failed by now
            raise Boom("work 5")
        return d

    def store(i, d):
        if i == 3:
            gate.set()
            raise Boom("store 3")

    with pytest.raises(Boom, match="store 3"):
        _pipeline.run(list(range(10)), lambda i: i, work, store, lambda i: 1)
    assert not _alive()


def test_keyboard_interrupt_stops_both_threads():
    stored = []

    def work(i, d):
        if i == 5:
            raise KeyboardInterrupt
        return d

    with pytest.raises(KeyboardInterrupt):
        _pipeline.run(
            list(range(1000)), lambda i: i, work, lambda i, d: stored.append(i), lambda i: 1
        )
    assert not _alive()
    assert 5 not in stored and all(i < 5 for i in stored)


def test_no_item_is_stored_after_an_interrupt(monkeypatch):
    """Items worked before Ctrl-C and still queued are not stored: the one in
    the writer's hands finishes, the writer then stops.  (A writer that did
    not check the stop flag stored [0, 1].)"""
    halted = threading.Event()
    halt = _pipeline._Run._halt

    def halt_and_tell(run, writing):
        halt(run, writing)
        if writing:
            halted.set()

    monkeypatch.setattr(_pipeline._Run, "_halt", halt_and_tell)
    storing = threading.Event()
    stored = []

    def work(i, d):
        if i == 2:  # item 0 is in the writer's hands, item 1 queued for it
            assert storing.wait(10)
            raise KeyboardInterrupt
        return d

    def store(i, d):
        if i == 0:  # held until the interrupt has stopped the run
            storing.set()
            assert halted.wait(10)
        stored.append(i)

    with pytest.raises(KeyboardInterrupt):
        _pipeline.run(list(range(10)), lambda i: i, work, store, lambda i: 1)
    assert not _alive()
    assert stored == [0]


def test_writeback_starts_disk_writes(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(_pipeline, "WRITEBACK_BYTES", 100)
    monkeypatch.setattr(_pipeline, "_start_writes", lambda *args: calls.append(args))
    with open(tmp_path / "f", "wb") as f:
        writeback = _pipeline.Writeback(f.fileno())
        writeback.wrote(60)
        assert calls == []
        writeback.wrote(60)
        assert calls == [(f.fileno(), 0, 0, 2)]


# ---- every container: the same bytes either way -------------------------------


@pytest.fixture
def one_by_one(monkeypatch):
    """Whole tensors, one item at a time, in the calling thread."""

    def use():
        monkeypatch.setattr(_pipeline, "THREADED", False)
        monkeypatch.setattr(_safetensors_jobs, "SLAB_BYTES", 1 << 40)
        monkeypatch.setattr(_safetensors_jobs, "COPY_PIECE", 1 << 40)
        monkeypatch.setattr(_gguf, "SLAB_ELEMENTS", 1 << 40)
        monkeypatch.setattr(_gguf, "COPY_BYTES", 1 << 40)
        monkeypatch.setattr(_npz, "COPY_CHUNK", 1 << 40)

    return use


@pytest.fixture(params=[1, 3000], ids=["budget-1", "budget-3000"])
def tiny_pieces(request, monkeypatch):
    """Pieces of a few rows or bytes and a budget that makes them wait."""

    def use():
        monkeypatch.setattr(_pipeline, "THREADED", True)
        monkeypatch.setattr(_pipeline, "BUDGET", request.param)
        monkeypatch.setattr(_safetensors_jobs, "SLAB_BYTES", 40)
        monkeypatch.setattr(_safetensors_jobs, "COPY_PIECE", 24)
        monkeypatch.setattr(_gguf, "SLAB_ELEMENTS", 64)
        monkeypatch.setattr(_gguf, "COPY_BYTES", 40)
        monkeypatch.setattr(_npz, "COPY_CHUNK", 48)

    return use


def _contents(path):
    """{relative path: bytes} of a file or of every file under a folder."""
    if os.path.isfile(path):
        return {"": path.read_bytes()}
    return {name: (path / name).read_bytes() for name in listing(path) if (path / name).is_file()}


def _both_ways(one_by_one, tiny_pieces, tmp_path, call):
    """call(output path) one by one, then through the pipeline: the outputs' bytes."""
    one_by_one()
    call(tmp_path / "one")
    tiny_pieces()
    call(tmp_path / "piped")
    return _contents(tmp_path / "one"), _contents(tmp_path / "piped")


def _with_nan_free_rows(rng):
    t = sample_tensors(rng)
    t["tall.weight"] = rng.standard_normal((33, 7)).astype(np.float32)  # many slabs
    return t


OPTIONS = [
    {},
    {"per_tensor": True},
    {"block_size": 4},
    {"rounding": "half_away", "all_tensors": True},
    {"clip": "mse"},
    {"skip": ["conv.*"]},
]


def _quantized(src, suffix, **options):
    def call(out):
        os.makedirs(out)
        int8q.io.quantize_file(src, out / f"q{suffix}", **options)

    return call


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "default")
def test_safetensors_file_and_back(tmp_path, one_by_one, tiny_pieces, options):
    src = tmp_path / "m.safetensors"
    write_safetensors(src, _with_nan_free_rows(np.random.default_rng(1)), {"format": "pt"})

    def call(out):
        os.makedirs(out)
        int8q.io.quantize_file(src, out / "q.safetensors", **options)
        int8q.io.dequantize_file(out / "q.safetensors", out / "back.safetensors")

    one, piped = _both_ways(one_by_one, tiny_pieces, tmp_path, call)
    assert one == piped and len(one) == 2


def test_sharded_and_back(tmp_path, one_by_one, tiny_pieces):
    tensors = _with_nan_free_rows(np.random.default_rng(2))
    names = list(tensors)
    index = write_sharded(tmp_path / "in", [{n: tensors[n] for n in names[i::3]} for i in range(3)])

    def call(out):
        os.makedirs(out)
        int8q.io.quantize_file(index, out / "q", block_size=3)
        int8q.io.dequantize_file(out / "q", out / "back")

    one, piped = _both_ways(one_by_one, tiny_pieces, tmp_path, call)
    assert one == piped and len(one) == 8  # 3 shards and an index, twice


@pytest.mark.parametrize(
    "options",
    [
        {"scheme": "W8A16"},
        {"scheme": "W8A8"},
        {"block_size": 4},
        {"scheme": "W8A8", "per_tensor": True},
    ],
    ids=["W8A16", "W8A8", "group", "tensor"],
)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_hugging_face_folder_and_back(tmp_path, one_by_one, tiny_pieces, options, dtype):
    from hf_folders import make_folder, tiny_tensors

    if dtype == "bfloat16":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        dtype = ml_dtypes.bfloat16
    src = make_folder(tmp_path / "model", tiny_tensors(np.random.default_rng(3), dtype), shards=2)

    def call(out):
        os.makedirs(out)
        int8q.io.quantize_file(src, out / "q", **options)
        int8q.io.dequantize_file(out / "q", out / "back")

    one, piped = _both_ways(one_by_one, tiny_pieces, tmp_path, call)
    assert one == piped and any(n.endswith(".safetensors") for n in one)


def test_gguf(tmp_path, one_by_one, tiny_pieces):
    pytest.importorskip("gguf")
    from gguf_files import write_gguf

    write_gguf(tmp_path / "m.gguf", seed=5)
    one, piped = _both_ways(
        one_by_one, tiny_pieces, tmp_path, _quantized(tmp_path / "m.gguf", ".gguf")
    )
    assert one == piped and len(one) == 1


@pytest.mark.parametrize("options", [{}, {"all_tensors": True, "block_size": 2}])
def test_npz(tmp_path, one_by_one, tiny_pieces, options):
    tensors = _with_nan_free_rows(np.random.default_rng(4))
    tensors.pop("bf16.weight", None)  # NumPy has no bfloat16 of its own
    np.savez(tmp_path / "m.npz", **{n.replace(".", "_"): a for n, a in tensors.items()})
    one, piped = _both_ways(
        one_by_one, tiny_pieces, tmp_path, _quantized(tmp_path / "m.npz", ".npz", **options)
    )
    assert one == piped and len(one) == 1


# ---- errors mid-file leave nothing -------------------------------------------


def _inputs(tmp_path):
    """{container: (input, output)} for each container the pipeline runs."""
    rng = np.random.default_rng(6)
    tensors = {
        f"layers.{i}.mlp.weight": rng.standard_normal((64, 32)).astype(np.float32) for i in range(6)
    }
    folder = tmp_path / "in"
    folder.mkdir()
    write_safetensors(folder / "m.safetensors", tensors)
    index = write_sharded(folder / "sharded", [dict(list(tensors.items())[i::2]) for i in range(2)])
    hf = folder / "hf"
    write_sharded(hf, [dict(list(tensors.items())[i::2]) for i in range(2)])
    (hf / "config.json").write_text(json.dumps({"model_type": "tiny", "torch_dtype": "float32"}))
    np.savez(folder / "m.npz", **{n.replace(".", "_"): a for n, a in tensors.items()})
    out = tmp_path / "out"
    out.mkdir()
    cases = {
        "safetensors": (folder / "m.safetensors", out / "q.safetensors"),
        "sharded": (index, out / "q"),
        "hf": (hf, out / "q"),
        "npz": (folder / "m.npz", out / "q.npz"),
    }
    with contextlib.suppress(ImportError):
        import gguf

        w = gguf.GGUFWriter(str(folder / "m.gguf"), "llama")
        for i, a in enumerate(tensors.values()):
            w.add_tensor(f"blk.{i}.attn_q.weight", np.repeat(a, 4, axis=1))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        cases["gguf"] = (folder / "m.gguf", out / "q.gguf")
    return cases


CONTAINERS = ["safetensors", "sharded", "hf", "npz", "gguf"]


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(_pipeline, "BUDGET", 3000)
    monkeypatch.setattr(_safetensors_jobs, "SLAB_BYTES", 1024)
    monkeypatch.setattr(_gguf, "SLAB_ELEMENTS", 1024)


def _case(tmp_path, name):
    cases = _inputs(tmp_path)
    if name not in cases:
        pytest.skip("gguf not installed")
    return cases[name]


@pytest.mark.parametrize("name", CONTAINERS)
def test_a_read_failing_mid_file_leaves_nothing(tmp_path, monkeypatch, small_pieces, name):
    src, dst = _case(tmp_path, name)
    error = FormatError(f"{src}: the disk went away")
    failed_in = []

    def failing(read):
        calls = []

        def call(*args):
            calls.append(1)
            if len(calls) == 5:
                failed_in.append(threading.current_thread().name)
                raise error
            return read(*args)

        return call

    if name == "npz":  # its members are read by zipfile, then _npz._read
        monkeypatch.setattr(_npz, "_read", failing(_npz._read))
    else:
        monkeypatch.setattr(_reading, "read_into", failing(_reading.read_into))
    before = listing(tmp_path)
    with pytest.raises(FormatError) as raised:
        int8q.io.quantize_file(src, dst)
    assert raised.value is error and failed_in == ["int8q-reader"]
    assert listing(tmp_path) == before and not _alive()


class _DiskFull:
    """A binary file that takes `room` bytes, then fails as a full disk does."""

    def __init__(self, f, room):
        self._f, self._room = f, room

    def write(self, data):
        n = memoryview(data).nbytes
        if n > self._room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= n
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)


@pytest.mark.parametrize("name", CONTAINERS)
def test_a_write_failing_mid_file_leaves_nothing(tmp_path, monkeypatch, small_pieces, name):
    src, dst = _case(tmp_path, name)
    writers = []

    @contextlib.contextmanager
    def output_file(path):
        with real(path) as f:
            writers.append(threading.current_thread().name)
            yield _DiskFull(f, 6000)  # the header and a few tensors

    real = _safetensors_jobs.output_file
    for module in (_safetensors_jobs, _gguf, _npz):
        monkeypatch.setattr(module, "output_file", output_file)
    before = listing(tmp_path)
    with pytest.raises(OSError) as raised:
        int8q.io.quantize_file(src, dst)
    assert raised.value.errno == errno.ENOSPC and "No space left" in str(raised.value)
    assert listing(tmp_path) == before and not _alive()


def test_a_slab_error_names_the_element_in_the_whole_tensor(tmp_path, monkeypatch):
    w = np.random.default_rng(7).standard_normal((40, 6)).astype(np.float32)
    w[29, 4] = np.nan
    write_safetensors(tmp_path / "m.safetensors", {"a.weight": w[:3], "b.weight": w})
    monkeypatch.setattr(_safetensors_jobs, "SLAB_BYTES", 48)  # 2 rows a slab
    before = listing(tmp_path)
    with pytest.raises(ValueError, match=r"tensor 'b.weight': x\[29, 4\] is nan"):
        int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors")
    assert listing(tmp_path) == before


def _bf16_file(path, w):
    """A safetensors file of w's values as bfloat16 (truncated, no ml_dtypes);
    returns those values as float32."""
    bits = (w.astype(np.float32).view(np.uint32) >> 16).astype("<u2")
    entry = {"dtype": "BF16", "shape": list(w.shape), "data_offsets": [0, bits.nbytes]}
    write_raw(path, {"w": entry}, bits.tobytes())
    return (bits.astype(np.uint32) << 16).view(np.float32)


@pytest.mark.parametrize("clip", [None, "mse"])
@pytest.mark.parametrize("block_size", [None, 8])
def test_bfloat16_quantizes_as_its_float32_values(tmp_path, monkeypatch, clip, block_size):
    # bfloat16 is read as its bits, in slabs of rows, and quantized in place
    # (clipping: from float32 values); the file is the one float32 values give.
    w = np.random.default_rng(8).standard_normal((40, 16)).astype(np.float32)
    w32 = _bf16_file(tmp_path / "b.safetensors", w)
    write_safetensors(tmp_path / "f.safetensors", {"w": w32})
    monkeypatch.setattr(_safetensors_jobs, "SLAB_BYTES", 3 * 16 * 2)  # 3 rows a slab
    for name in ("b", "f"):
        int8q.io.quantize_file(
            tmp_path / f"{name}.safetensors",
            tmp_path / f"{name}-q.safetensors",
            clip=clip,
            block_size=block_size,
        )
    got, want = (read_safetensors(tmp_path / f"{n}-q.safetensors")[0] for n in ("b", "f"))
    assert sorted(got) == sorted(want) == ["w", "w_scale"]
    for name in got:
        assert got[name].dtype == want[name].dtype
        np.testing.assert_array_equal(got[name], want[name])


@pytest.mark.parametrize("clip", [None, "mse"])
def test_a_bfloat16_nan_is_named_as_in_float32(tmp_path, monkeypatch, clip):
    w = np.random.default_rng(7).standard_normal((40, 6)).astype(np.float32)
    w[29, 4] = np.nan
    _bf16_file(tmp_path / "m.safetensors", w)
    monkeypatch.setattr(_safetensors_jobs, "SLAB_BYTES", 24)  # 2 rows a slab
    before = listing(tmp_path)
    with pytest.raises(ValueError, match=r"^tensor 'w': x\[29, 4\] is nan; int8q quantizes"):
        int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors", clip=clip)
    assert listing(tmp_path) == before


@pytest.mark.parametrize("name", CONTAINERS)
def test_ctrl_c_mid_file_leaves_nothing(tmp_path, monkeypatch, small_pieces, name):
    src, dst = _case(tmp_path, name)
    from int8q import ggml
    from int8q.io._policy import _convention

    calls = []

    def interrupted(convert):
        def call(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return convert(*args, **kwargs)

        return call

    monkeypatch.setattr(_convention, "quantize", interrupted(_convention.quantize))
    monkeypatch.setattr(ggml, "quantize_q8_0", interrupted(ggml.quantize_q8_0))
    before = listing(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        int8q.io.quantize_file(src, dst)
    assert listing(tmp_path) == before and not _alive()
