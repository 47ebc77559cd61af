"""The given-scale path side by side with the memory roof, in one process.

benchmarks/bench.py is being restructured on another branch, so this case
lives here until it is merged there (`ort-given` in the suite is the same
peer).  For each size: int8q.quantize(x, scale=s, zero_point=0) (ONNX
QuantizeLinear semantics, one pass), the symmetric abs-max quantize (two
reads of x), onnxruntime's QuantizeLinear with the same scale, and np.copyto
of a float32 array (the roof: 8 bytes per element); the given path with
out= (a NaN check pass first) is shown as a ratio.  Samples are interleaved,
each after a short sleep; the best of the repeats is kept.  The roof fraction
is (5 bytes per element / time) / (8 bytes per element / copy time).

    python tools/bench_given_scale.py [repeats]
"""

import sys
import time

import numpy as np

import int8q
from int8q import _affine
from int8q._granularity import resolve

try:
    import onnxruntime
    from onnx import TensorProto, helper
except ImportError:
    onnxruntime = None


def ort_quantize_linear(x, scale):
    zero = helper.make_tensor("zp", TensorProto.INT8, [], [0])
    s = helper.make_tensor("s", TensorProto.FLOAT, [], [float(scale)])
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"])],
        "q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("q", TensorProto.INT8, list(x.shape))],
        [s, zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int8q.get_num_threads()
    sess = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return lambda: sess.run(None, {"x": x})


def best(funcs, repeats):
    out = {name: float("inf") for name in funcs}
    for _ in range(repeats):
        for name, f in funcs.items():
            time.sleep(0.02)
            t = time.perf_counter()
            f()
            out[name] = min(out[name], time.perf_counter() - t)
    return out


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    print(f"threads {int8q.get_num_threads()}, SIMD {int8q.get_simd()}")
    print(
        "given: int8q.quantize(x, scale=s, zero_point=0), one pass into a new array; "
        "kernel: the same pass into an existing buffer; out=: a NaN check pass first.  "
        "Ratios: other time / given time."
    )
    print(
        f"{'elements':>10} {'kernel GB/s':>11} {'roof':>5} {'given GB/s':>10} {'roof':>5} "
        f"{'out=':>8} {'abs-max':>8} {'ort':>8}"
    )
    rng = np.random.default_rng(0)
    for n in (1 << 22, 1 << 24, 1 << 26):
        x = rng.standard_normal(n, dtype=np.float32)
        s = np.float32(np.abs(x).max() / 127)
        q = np.empty(n, np.int8)
        dst = np.empty_like(x)
        gran, zps = resolve(x.shape), np.zeros(1, np.int32)
        scales = np.array([s])
        funcs = {
            "given": lambda: int8q.quantize(x, scale=s, zero_point=0),
            # The one pass alone, into a buffer that already exists (no
            # page faults on a fresh output): what np.copyto is timed as.
            "kernel": lambda: _affine.quantize_given(
                x, x.dtype, gran, scales, zps, -128, 127, 0, q, False
            ),
            "given-out": lambda: int8q.quantize(x, scale=s, zero_point=0, out=q),
            "absmax": lambda: int8q.quantize(x),
            "copy": lambda: np.copyto(dst, x),
        }
        if onnxruntime is not None:
            funcs["ort"] = ort_quantize_linear(x, s)
        t = best(funcs, repeats)
        given = t["given"]
        roof = (5 * n / given) / (8 * n / t["copy"])
        kroof = (5 * n / t["kernel"]) / (8 * n / t["copy"])
        ort = f"{t['ort'] / given:7.2f}x" if "ort" in t else "      -"
        print(
            f"{n:>10} {5 * n / t['kernel'] / 1e9:>11.2f} {kroof:>5.2f} "
            f"{5 * n / given / 1e9:>10.2f} {roof:>5.2f} "
            f"{t['given-out'] / given:7.2f}x {t['absmax'] / given:7.2f}x {ort}"
        )


if __name__ == "__main__":
    main()
