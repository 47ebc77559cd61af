"""int8q against its peers, side by side in one process.

    python benchmarks/bench.py            # full suite (sizes 2^10 .. 2^26)
    python benchmarks/bench.py --quick    # smoke run: small sizes, one repeat

For every case the competitors run interleaved (A, B, C, A, B, C, ...) and
each keeps its best time over the samples; every sample is preceded by a
short sleep (other libraries' thread pools spin for milliseconds after a
call and would steal the next sample's cores).  Peers that are not installed
(torch, gguf, onnxruntime, numba: the `bench` extra) are skipped, never
faked.  The roof is a two-thread copy of the same bytes into a reused buffer.
Prints a table of Gelem/s, roof fractions and peer/int8q ratios, writes JSON
and, with matplotlib, a PNG plot.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import sys
import time
import warnings

import numpy as np

import int8q
from int8q import ggml, reference

try:
    import torch
except ImportError:
    torch = None
try:
    from gguf import GGMLQuantizationType
    from gguf import quants as gguf_quants
except ImportError:
    gguf_quants = None
try:
    import onnx  # noqa: F401  (its helper and TensorProto are used below)
    import onnxruntime
    from onnx import TensorProto, helper
except ImportError:
    onnxruntime = None
try:
    import numba
except ImportError:
    numba = None
try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None

HERE = pathlib.Path(__file__).resolve().parent


# ----------------------------------------------------------------------------
# Competitors: each maker takes the input and returns a zero-argument callable.


def numpy_per_tensor(x):
    def run():
        s = np.abs(x).max() / np.float32(127)
        s = s if s != 0 else np.float32(1)
        return np.clip(np.rint(x / s), -127, 127).astype(np.int8), s

    return run


def numpy_qdq(x):
    per_tensor = numpy_per_tensor(x)

    def run():
        q, s = per_tensor()
        return q, q.astype(np.float32) * s

    return run


def numpy_per_row(w):
    def run():
        s = np.abs(w).max(axis=1, keepdims=True) / np.float32(127)
        s[s == 0] = 1
        return np.clip(np.rint(w / s), -127, 127).astype(np.int8), s

    return run


def numpy_per_block(x, block=32):
    def run():
        b = x.reshape(-1, block)
        s = np.abs(b).max(axis=1, keepdims=True) / np.float32(127)
        s[s == 0] = 1
        return np.clip(np.rint(b / s), -127, 127).astype(np.int8), s

    return run


def torch_per_tensor(x, dequantize=False):
    t = torch.from_numpy(x)

    def run():
        s = float(t.abs().max()) / 127 or 1.0
        qt = torch.quantize_per_tensor(t, s, 0, torch.qint8)
        return qt.dequantize() if dequantize else qt

    return run


def torch_per_row(w):
    t = torch.from_numpy(w)
    zeros = torch.zeros(w.shape[0], dtype=torch.int64)

    def run():
        s = t.abs().amax(dim=1).double() / 127
        s[s == 0] = 1
        return torch.quantize_per_channel(t, s, zeros, 0, torch.qint8)

    return run


def gguf_q8_0(x):
    def run():
        return gguf_quants.quantize(x, GGMLQuantizationType.Q8_0)

    return run


def gguf_q8_0_accelerated(x):
    """gguf-py's Q8_0 as `ggml.accelerate_gguf` patches it, timed per call:
    the patch is made (and probed) once here, then switched on around each
    call only, so that the interleaved plain "gguf" runs unpatched; gguf-py
    is left as it was between calls and after the case."""
    cls = gguf_quants.Q8_0
    plain = dict(vars(cls))
    with ggml.accelerate_gguf():
        patched = {k: v for k, v in vars(cls).items() if plain.get(k) is not v}
    assert patched and dict(vars(cls)) == plain

    def run():
        for name, method in patched.items():
            setattr(cls, name, method)
        try:
            return gguf_quants.quantize(x, GGMLQuantizationType.Q8_0)
        finally:
            for name in patched:
                if name in plain:
                    setattr(cls, name, plain[name])
                else:
                    delattr(cls, name)

    assert np.array_equal(run(), ggml.quantize_q8_0(x))  # the patch is the one timed
    return run


def copy_roof(x, threads=2):
    """Two threads copying halves of x into a reused buffer (np.copyto drops
    the GIL): the memory roof for streaming x's bytes in and out."""
    import concurrent.futures

    flat = x.reshape(-1)
    dst = np.empty_like(flat)
    cuts = [len(flat) * t // threads for t in range(threads + 1)]
    parts = [(dst[a:b], flat[a:b]) for a, b in zip(cuts, cuts[1:])]
    pool = concurrent.futures.ThreadPoolExecutor(threads)

    def run():
        if len(flat) < 1 << 16:  # a thread hand-off would cost more than the copy
            np.copyto(dst, flat)
            return
        list(pool.map(lambda p: np.copyto(*p), parts))

    return run


# --- onnxruntime: QuantizeLinear with a given scale, and the abs-max graph
# ReduceMax(Abs(x)) / 127 -> QuantizeLinear (what an exporter emits for
# dynamic per-tensor quantization).


def _ort_session(graph):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int8q.get_num_threads()
    return onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def ort_given_scale(x):
    zero = helper.make_tensor("zp", TensorProto.INT8, [], [0])
    scale = helper.make_tensor("s", TensorProto.FLOAT, [], [float(np.abs(x).max() / 127)])
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"])],
        "q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("q", TensorProto.INT8, list(x.shape))],
        [scale, zero],
    )
    sess = _ort_session(graph)
    return lambda: sess.run(None, {"x": x})


def ort_absmax(x):
    zero = helper.make_tensor("zp", TensorProto.INT8, [], [0])
    c127 = helper.make_tensor("c127", TensorProto.FLOAT, [], [127.0])
    nodes = [
        helper.make_node("Abs", ["x"], ["a"]),
        helper.make_node("ReduceMax", ["a"], ["m"], keepdims=0),
        helper.make_node("Div", ["m", "c127"], ["s"]),
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"]),
    ]
    graph = helper.make_graph(
        nodes,
        "absmax_q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("q", TensorProto.INT8, list(x.shape))],
        [zero, c127],
    )
    sess = _ort_session(graph)
    return lambda: sess.run(None, {"x": x})


# --- numba: hand-written parallel kernels, the best a user could write in
# Python (compiled once, before timing).

_NUMBA = {}


def _numba_kernels():
    if not _NUMBA:
        from numba import njit, prange

        @njit(parallel=True, fastmath=False, cache=False)
        def per_tensor(x, q):
            m = np.float32(0)
            for i in prange(x.size):
                m = max(m, abs(x[i]))
            s = m / np.float32(127)
            if s == 0:
                s = np.float32(1)
            for i in prange(x.size):
                q[i] = np.int8(min(max(np.rint(x[i] / s), -127), 127))
            return s

        @njit(parallel=True, fastmath=False, cache=False)
        def per_column(w, q, s):
            # each thread a strip of rows into its own running max of every
            # column (contiguous, no column walks), the partial maxima
            # max-reduced, then a parallel quantize pass over rows
            rows, cols = w.shape
            threads = numba.get_num_threads()
            part = np.zeros((threads, cols), np.float32)
            for t in prange(threads):
                acc = part[t]
                for i in range(rows * t // threads, rows * (t + 1) // threads):
                    for j in range(cols):
                        a = abs(w[i, j])
                        acc[j] = a if a > acc[j] else acc[j]
            for j in range(cols):
                m = part[0, j]
                for t in range(1, threads):
                    m = part[t, j] if part[t, j] > m else m
                s[j] = m / np.float32(127) if m != 0 else np.float32(1)
            for i in prange(rows):
                for j in range(cols):
                    v = np.rint(w[i, j] / s[j])
                    v = v if v > np.float32(-127) else np.float32(-127)
                    q[i, j] = np.int8(v if v < np.float32(127) else np.float32(127))

        @njit(parallel=True, fastmath=False, cache=False)
        def dequantize(q, s, out):
            for i in prange(q.size):
                out[i] = np.float32(q[i]) * s

        numba.set_num_threads(min(int8q.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
        _NUMBA.update(per_tensor=per_tensor, per_column=per_column, dequantize=dequantize)
    return _NUMBA


def numba_per_tensor(x):
    k = _numba_kernels()["per_tensor"]
    flat = x.reshape(-1)
    q = np.empty(flat.shape, np.int8)
    k(flat[:64], q[:64])  # compile
    return lambda: k(flat, q)


def numba_per_column(w):
    k = _numba_kernels()["per_column"]
    q = np.empty(w.shape, np.int8)
    s = np.empty(w.shape[1], np.float32)
    k(w[:4], q[:4], s)  # compile (for C-ordered arrays, as timed)
    return lambda: k(w, q, s)


def numba_dequantize(q, s):
    k = _numba_kernels()["dequantize"]
    out = np.empty(q.shape, np.float32)
    k(q[:64], s, out[:64])
    return lambda: k(q, s, out)


def torch_per_tensor_half(x):
    t = (
        torch.from_numpy(x)
        if x.dtype == np.float16
        else torch.from_numpy(x.view(np.uint16)).view(torch.bfloat16)
    )

    def run():
        s = float(t.abs().max()) / 127 or 1.0
        return torch.quantize_per_tensor(t.float(), s, 0, torch.qint8)

    return run


# ----------------------------------------------------------------------------

SETTLE = 0.002  # seconds of sleep before every timed sample


def best_time(func, min_time, repeats_state):
    """Seconds per call for one sample: after a short sleep, time calls one
    by one and keep the fastest; calls too short for the clock (< 20 us) run
    in batches of `number` and count the batch mean."""
    number = repeats_state.get(func)
    if number is None:
        start = time.perf_counter()
        func()
        once = time.perf_counter() - start
        number = 1 if once >= 20e-6 else max(2, int(50e-6 / max(once, 1e-7)))
        repeats_state[func] = number
    time.sleep(SETTLE)
    best = float("inf")
    deadline = time.perf_counter() + min_time
    while True:
        start = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, (time.perf_counter() - start) / number)
        if time.perf_counter() >= deadline:
            return best


def measure(competitors, repeats, min_time):
    """Best seconds per call for each competitor, interleaved over repeats."""
    best = {name: float("inf") for name in competitors}
    state = {}
    for _ in range(repeats):
        for name, func in competitors.items():
            best[name] = min(best[name], best_time(func, min_time, state))
    return best


# Sizes of the per-column case (all of them with --quick's largest).
PER_COLUMN_SIZES = (1 << 22, 1 << 26)


def cases(sizes, quick):
    """(case, size, elements, {name: callable}) for every benchmark."""
    rng = np.random.default_rng(0)
    for n in sizes:
        x = rng.standard_normal(n, dtype=np.float32)
        # "int8q" writes into a reused output (out=), like the copy roof and
        # the numba and onnxruntime peers; "int8q-alloc" allocates its output
        # each call, which adds the first touch of fresh pages.
        qbuf = np.empty(x.shape, np.int8)
        comp = {
            "int8q": lambda x=x, o=qbuf: int8q.quantize(x, out=o),
            "int8q-alloc": lambda x=x: int8q.quantize(x),
            "numpy": numpy_per_tensor(x),
            "copy": copy_roof(x),
        }
        if torch is not None:
            comp["torch"] = torch_per_tensor(x)
        if onnxruntime is not None:
            comp["ort"] = ort_absmax(x)
            comp["ort-given"] = ort_given_scale(x)
        if numba is not None:
            comp["numba"] = numba_per_tensor(x)
        yield "per-tensor", n, n, comp

        # Scales known in advance (calibrated ranges): ONNX QuantizeLinear.
        given = np.float32(np.abs(x).max() / 127)
        comp = {
            "int8q": lambda x=x, o=qbuf, s=given: int8q.quantize(x, scale=s, out=o),
            "int8q-alloc": lambda x=x, s=given: int8q.quantize(x, scale=s),
            "copy": copy_roof(x),
        }
        if onnxruntime is not None:
            comp["ort"] = ort_given_scale(x)
        yield "given-scale", n, n, comp

        dbuf = np.empty(x.shape, np.float32)
        comp = {
            "int8q": lambda x=x, o=(qbuf, dbuf): int8q.quantize_dequantize(x, out=o),
            "int8q-alloc": lambda x=x: int8q.quantize_dequantize(x),
            "numpy": numpy_qdq(x),
            "copy": copy_roof(x),
        }
        if torch is not None:
            comp["torch"] = torch_per_tensor(x, dequantize=True)
        yield "qdq", n, n, comp

        comp = {
            "int8q": lambda x=x: int8q.quantize(x.reshape(-1, 32), block_size=32),
            "numpy": numpy_per_block(x),
            "copy": copy_roof(x),
        }
        yield "per-block-32", n, n, comp

        q8buf = np.empty(n // 32 * 34, np.uint8)
        comp = {
            "int8q": lambda x=x, o=q8buf: ggml.quantize_q8_0(x, out=o),
            "int8q-alloc": lambda x=x: ggml.quantize_q8_0(x),
            "copy": copy_roof(x),
        }
        if gguf_quants is not None and n <= 1 << 24:
            comp["gguf"] = gguf_q8_0(x)
        yield "q8_0", n, n, comp

        qt = int8q.quantize(x)
        q, s = qt.q, qt.scale
        comp = {
            "int8q": lambda q=q, s=s, o=dbuf: int8q.dequantize(q, s, out=o),
            "int8q-alloc": lambda q=q, s=s: int8q.dequantize(q, s),
            "numpy": lambda q=q, s=s: q.astype(np.float32) * s,
            "copy": copy_roof(x),
        }
        if numba is not None:
            comp["numba"] = numba_dequantize(q, s)
        yield "dequantize", n, n, comp

        # Q8_0 bytes to float32: 34 bytes read per 128 written, the output
        # streamed beyond the last-level cache as dequantize's is.
        raw = ggml.quantize_q8_0(x)
        comp = {
            "int8q": lambda r=raw, o=dbuf: ggml.dequantize_q8_0(r, out=o),
            "int8q-alloc": lambda r=raw: ggml.dequantize_q8_0(r),
            "copy": copy_roof(x),
        }
        yield "q8_0-dequantize", n, n, comp
        del raw

        if 1 << 20 <= n <= 1 << 25:
            for name, dtype in [
                ("float16", np.float16),
                ("bfloat16", ml_dtypes.bfloat16 if ml_dtypes else None),
            ]:
                if dtype is None:
                    continue
                h = x.astype(dtype)
                comp = {
                    "int8q": lambda h=h, o=qbuf: int8q.quantize(h, out=o),
                    "int8q-alloc": lambda h=h: int8q.quantize(h),
                    "copy": copy_roof(x),
                }
                if torch is not None:
                    comp["torch"] = torch_per_tensor_half(h)
                yield f"{name}-per-tensor", n, n, comp
                del h
            # Layouts the kernels gather: reversed bytes and F order (same
            # bytes as x, so the same roof).
            rows = 1 << (n.bit_length() - 1) // 2
            for name, view in [
                ("swapped-per-tensor", x.astype(x.dtype.newbyteorder())),
                ("F-order-per-tensor", np.asfortranarray(x.reshape(rows, -1))),
            ]:
                out = qbuf.reshape(view.shape)
                comp = {
                    "int8q": lambda v=view, o=out: int8q.quantize(v, out=o),
                    "numpy": numpy_per_tensor(view),
                    "copy": copy_roof(x),
                }
                yield name, n, n, comp
                del view
        if n in PER_COLUMN_SIZES or (quick and n == sizes[-1]):
            # one scale per column of a (rows, 4096) matrix (axis=1)
            w = x.reshape(-1, 4096)
            out = qbuf.reshape(w.shape)
            comp = {
                "int8q": lambda w=w, o=out: int8q.quantize(w, axis=1, out=o),
                "int8q-alloc": lambda w=w: int8q.quantize(w, axis=1),
                "copy": copy_roof(w),
            }
            if numba is not None:
                comp["numba"] = numba_per_column(w)
            yield "per-column", n, n, comp
            # blocks of 32 rows (axis 0, as ONNX blocks a MatMul's (K, N)
            # weight); the same matrix in blocks of 32 along its rows
            # ("last-axis") moves the same bytes
            comp = {
                "int8q": lambda w=w: int8q.quantize(w, axis=0, block_size=32),
                "last-axis": lambda w=w: int8q.quantize(w, block_size=32),
                "copy": copy_roof(w),
            }
            yield "per-block-32-axis-0", n, n, comp
            # the same on narrow rows, a (rows, 256) matrix: a block of 32
            # rows is 32 KiB
            v = x.reshape(-1, 256)
            comp = {
                "int8q": lambda v=v: int8q.quantize(v, axis=0, block_size=32),
                "last-axis": lambda v=v: int8q.quantize(v, block_size=32),
                "copy": copy_roof(v),
            }
            yield "per-block-32-axis-0-narrow", n, n, comp
            # and on rows of 4 (a block of 32 rows is 128 elements), against
            # the same bytes in blocks of 32 along the last axis, with the
            # dequantize of q, whose narrow rows take the same spread scales
            v = x.reshape(-1, 4)
            qv = int8q.quantize(v, axis=0, block_size=32)
            comp = {
                "int8q": lambda v=v: int8q.quantize(v, axis=0, block_size=32),
                "last-axis": lambda w=w: int8q.quantize(w, block_size=32),
                "dequantize": lambda qv=qv: int8q.dequantize(qv),
                "copy": copy_roof(v),
            }
            yield "per-block-32-axis-0-rows-of-4", n, n, comp
            # blocks of other lengths along the last axis against blocks of
            # 32, the length with hand-written loops
            for block in (16, 128):
                comp = {
                    "int8q": lambda w=w, b=block: int8q.quantize(w, block_size=b),
                    "blocks-of-32": lambda w=w: int8q.quantize(w, block_size=32),
                    "copy": copy_roof(w),
                }
                yield f"per-block-{block}", n, n, comp
            del w, v, out
        del x, qbuf, dbuf, q8buf

    rows = 256 if quick else 1024
    w = rng.standard_normal((rows, 4096), dtype=np.float32)
    comp = {
        "int8q": lambda: int8q.quantize(w, axis=0),
        "numpy": numpy_per_row(w),
        "copy": copy_roof(w),
    }
    if torch is not None:
        comp["torch"] = torch_per_row(w)
    yield "per-row", w.size, w.size, comp

    one = np.float32([1.5])
    yield "small-1", 1, 1, {"int8q": lambda: int8q.quantize(one), "numpy": numpy_per_tensor(one)}

    for n in [4, 100] if quick else [4, 100, 1000, 100_000]:
        values = rng.standard_normal(n).tolist()
        yield (
            "dict",
            n,
            n,
            {
                "int8q": lambda v=values: int8q.int8_quantize(v),
                "numpy": lambda v=values: reference.int8_quantize(v),
            },
        )

    # gguf-py's Q8_0 on a LLaMA-sized weight: plain, patched by
    # ggml.accelerate_gguf, and int8q's own quantize_q8_0.
    if gguf_quants is not None:
        m = rng.standard_normal((256 if quick else 4096, 4096), dtype=np.float32)
        comp = {
            "int8q": lambda m=m: ggml.quantize_q8_0(m),
            "gguf": gguf_q8_0(m),
            "gguf-accel": gguf_q8_0_accelerated(m),
        }
        yield "gguf-q8_0", m.size, m.size, comp


# Bytes each case moves per element (input in, outputs out), for the roof.
BYTES_PER_ELEMENT = {
    "per-tensor": 9,
    "given-scale": 5,
    "qdq": 13,
    "per-block-32": 5 + 4 / 32,
    "per-block-32-axis-0": 5 + 4 / 32,
    "per-block-32-axis-0-narrow": 5 + 4 / 32,
    "per-block-32-axis-0-rows-of-4": 5 + 4 / 32,
    "per-block-16": 5 + 4 / 16,
    "per-block-128": 5 + 4 / 128,
    "q8_0": 4 + 34 / 32,
    "per-row": 5,
    "per-column": 9,  # the input read twice (abs-max pass, quantize pass), q written
    "dequantize": 5,
    "q8_0-dequantize": 4 + 34 / 32,
    "float16-per-tensor": 5,
    "bfloat16-per-tensor": 5,
    "swapped-per-tensor": 9,
    "F-order-per-tensor": 9,
}


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": getattr(torch, "__version__", None),
        "int8q": int8q.__version__,
        "simd": int8q.get_simd(),
        "simd_available": int8q.available_simd(),
        "load": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "onnxruntime": getattr(onnxruntime, "__version__", None),
        "numba": getattr(numba, "__version__", None),
        "threads": int8q.get_num_threads(),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "date": datetime.date.today().isoformat(),
    }


def run(args):
    if args.quick:
        sizes = [1 << 10, 1 << 16]
    else:
        sizes = [1 << k for k in (args.log2 or range(10, 27, 2))]
        if args.max_log2:
            sizes = [s for s in sizes if s <= 1 << args.max_log2]
    results = []
    for case, size, elements, comp in cases(sizes, args.quick):
        if args.cases and case not in args.cases:
            continue
        best = measure(comp, args.repeats, args.min_time)
        row = {
            "case": case,
            "size": size,
            "seconds": best,
            "gelem_per_s": {k: elements / v / 1e9 for k, v in best.items()},
            "ratio": {k: v / best["int8q"] for k, v in best.items() if k not in ("int8q", "copy")},
        }
        if "copy" in best:
            roof = 8 * elements / best["copy"]  # bytes/s of the two-thread float32 copy
            row["roof_fraction"] = BYTES_PER_ELEMENT[case] * elements / best["int8q"] / roof
        results.append(row)
        print_row(row)
        sys.stdout.flush()
    return results


def print_header():
    print(
        f"{'case':<13}{'size':>10}  {'int8q Gel/s':>11}  {'roof':>5}  peers (Gel/s, peer time / int8q time)"
    )


def print_row(row):
    g = row["gelem_per_s"]
    peers = "  ".join(f"{k} {g[k]:.3g} ({r:.1f}x)" for k, r in row["ratio"].items())
    roof = f"{row['roof_fraction']:.2f}" if "roof_fraction" in row else "  -"
    print(f"{row['case']:<13}{row['size']:>10}  {g['int8q']:>11.3f}  {roof:>5}  {peers}")


PEERS = ("int8q-alloc", "numpy", "torch", "gguf", "gguf-accel", "ort", "ort-given", "numba")


def markdown(data):
    """The published table (docs/benchmarks.md): one row per case and size,
    Gelem/s and ratios, under a line naming the CPU, SIMD level, threads and
    library versions."""
    m = data["machine"]
    lines = [
        f"{m['date']}: {m['cpu']}, SIMD level {m['simd']}, int8q {m['int8q']} "
        f"({m['threads']} threads), NumPy {m['numpy']}, torch {m['torch']} "
        f"({m['torch_threads']} threads), onnxruntime {m.get('onnxruntime')}, numba "
        f"{m.get('numba')}, Python {m['python']}.",
        "",
        "| case | elements | int8q Gelem/s | roof | " + " | ".join(f"vs {k}" for k in PEERS) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(PEERS),
    ]
    for r in data["results"]:
        if r["case"] not in ("dict", "small-1") and r["size"] < 1 << 10:
            continue
        ratio = r["ratio"]
        cells = [f"{ratio[k]:.2f}x" if k in ratio else "-" for k in PEERS]
        roof = f"{r['roof_fraction']:.2f}" if "roof_fraction" in r and r["size"] >= 1 << 20 else "-"
        lines.append(
            f"| {r['case']} | {r['size']:,} | {r['gelem_per_s']['int8q']:.3g} | "
            f"{roof} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


STYLE = {
    "int8q": dict(color="tab:blue", linewidth=2.6, marker="o"),
    "numpy": dict(color="tab:orange", marker="s"),
    "torch": dict(color="tab:red", marker="^"),
    "gguf": dict(color="tab:purple", marker="v"),
    "ort": dict(color="tab:green", marker="D"),
    "numba": dict(color="tab:brown", marker="x"),
    "int8q-alloc": dict(color="tab:cyan", marker="o", linestyle=":"),
    "copy": dict(color="0.5", linestyle="--", marker="", label="2-thread copy (roof)"),
}


def plot(results, path, machine=None):
    """Throughput against size, one panel per case, one colour per competitor;
    the title names the CPU, SIMD level, thread count, version and date."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = [
        c
        for c in ("per-tensor", "qdq", "per-block-32", "q8_0", "dequantize")
        if any(r["case"] == c for r in results)
    ]
    fig, axes = plt.subplots(1, len(sweep), figsize=(4.2 * len(sweep), 3.8), squeeze=False)
    for ax, case in zip(axes[0], sweep):
        rows = [r for r in results if r["case"] == case]
        for name, style in STYLE.items():
            pts = [(r["size"], r["gelem_per_s"][name]) for r in rows if name in r["gelem_per_s"]]
            if pts:
                ax.plot(*zip(*pts), **{"label": name, "linewidth": 1.2, **style})
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(case)
        ax.set_xlabel("float32 elements")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("Gelem/s (higher is better)")
    if machine:
        fig.suptitle(
            f"{machine['cpu']}, SIMD {machine['simd']}, {machine['threads']} threads, "
            f"int8q {machine['int8q']}, {machine['date']}",
            fontsize=9,
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--min-time", type=float, default=None, help="seconds each measurement runs at least"
    )
    parser.add_argument("--max-log2", type=int, default=None, help="largest size, log2")
    parser.add_argument(
        "--log2",
        type=int,
        nargs="+",
        default=None,
        help="the sizes to run, as powers of two (default 10 12 ... 26)",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        default=None,
        metavar="CASE",
        help="run only these cases (e.g. given-scale per-tensor)",
    )
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "results")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--plot-only",
        type=pathlib.Path,
        metavar="JSON",
        help="redraw the plot from an earlier run's JSON",
    )
    parser.add_argument(
        "--markdown",
        type=pathlib.Path,
        metavar="JSON",
        help="print the published table (Markdown) from an earlier run's JSON",
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.min_time is None:
        args.min_time = 0.01 if args.quick else 0.2
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    if args.plot_only:
        data = json.loads(args.plot_only.read_text())
        plot(data["results"], args.out / "bench.png", data["machine"])
        return 0
    warnings.simplefilter("ignore")  # torch's deprecation notices are not ours
    info = machine()
    print(" ".join(f"{k}={v}" for k, v in info.items()))
    print_header()
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "bench.json", "w") as f:
        json.dump({"machine": info, "results": results}, f, indent=1)
    if not args.no_plot:
        try:
            plot(results, args.out / "bench.png", info)
        except ImportError:
            print("matplotlib not installed: no plot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
