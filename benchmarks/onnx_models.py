"""ONNX models: int8q against onnxruntime's quantize_dynamic (QInt8 defaults).

    python benchmarks/onnx_models.py --dir /scratch/int8q-onnx --minilm minilm.onnx
    python benchmarks/onnx_models.py --dir /scratch/int8q-onnx --repeats 3 --gib 1

Builds (or reuses) a synthetic model of ``--gib`` GiB of float32 MatMul
weights (layers of 4096 x 4096, each followed by a Relu) with its weights in
external data, written a tensor at a time; takes ``--minilm`` (all-MiniLM-L6-v2
exported with torch.onnx.export, tests/support/onnx_models.export_minilm)
when given.  For each model runs, interleaved, keeping the best of
--repeats, each in a fresh child process (so that its peak resident set size
is its own): ``quantize_dynamic(IN, OUT, weight_type=QuantType.QInt8)`` and
``int8q.io.quantize_file(IN, OUT)`` (the call only: imports, onnx's included, and interpreter
start are outside the time).  The outputs are checked to hold the same
initializers (byte for byte, external data loaded) before any figure is
printed.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

CHILD = r"""
import json, logging, os, resource, sys, time
src, dst, tool = sys.argv[1:4]
logging.disable(logging.WARNING)
if tool == "ort":
    from onnxruntime.quantization import QuantType, quantize_dynamic
    run = lambda: quantize_dynamic(src, dst, weight_type=QuantType.QInt8,
                                   use_external_data_format=os.path.getsize(src) < 1e6)
else:
    import int8q.io
    import onnx  # imported by int8q on first use; outside the time, as for onnxruntime
    run = lambda: int8q.io.quantize_file(src, dst, force=True)
start = time.perf_counter()
run()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def build_synthetic(path, gib):
    """A chain of MatMul + Relu layers, 4096 x 4096 float32 each, weights in
    one external data file; written a tensor at a time."""
    from onnx import TensorProto, helper

    d = 4096
    layers = max(1, round(gib * 2**30 / (d * d * 4)))
    data = path + ".data"
    rng = np.random.default_rng(0)
    init, nodes, offset = [], [], 0
    with open(data, "wb") as f:
        for i in range(layers):
            w = (rng.standard_normal((d, d), dtype=np.float32) * 0.02).astype(np.float32)
            f.write(w.tobytes())
            t = TensorProto()
            t.name, t.data_type = f"layer{i}.weight", TensorProto.FLOAT
            t.dims.extend([d, d])
            t.data_location = TensorProto.EXTERNAL
            for key, value in (
                ("location", os.path.basename(data)),
                ("offset", offset),
                ("length", w.nbytes),
            ):
                e = t.external_data.add()
                e.key, e.value = key, str(value)
            offset += w.nbytes
            init.append(t)
            x = "x" if i == 0 else f"h{i - 1}"
            nodes.append(helper.make_node("MatMul", [x, t.name], [f"m{i}"], f"layer{i}/MatMul"))
            nodes.append(helper.make_node("Relu", [f"m{i}"], [f"h{i}"], f"layer{i}/Relu"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", d])
    y = helper.make_tensor_value_info(f"h{layers - 1}", TensorProto.FLOAT, ["batch", d])
    graph = helper.make_graph(nodes, "synthetic", [x], [y], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def model_bytes(path):
    total = os.path.getsize(path)
    if os.path.exists(path + ".data"):
        total += os.path.getsize(path + ".data")
    return total


def same_initializers(a, b):
    import onnx

    ga, gb = onnx.load(a).graph, onnx.load(b).graph
    ta = {t.name: onnx.numpy_helper.to_array(t) for t in ga.initializer}
    tb = {t.name: onnx.numpy_helper.to_array(t) for t in gb.initializer}
    return ta.keys() == tb.keys() and all(
        ta[k].dtype == tb[k].dtype and np.array_equal(ta[k], tb[k]) for k in ta
    )


def child(src, dst, tool):
    out = subprocess.run(
        [sys.executable, "-c", CHILD, src, dst, tool], capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"{tool} on {src} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--minilm", help="all-MiniLM-L6-v2 exported to ONNX")
    p.add_argument("--gib", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    models = []
    if args.minilm:
        models.append(("MiniLM-L6-v2", args.minilm))
    big = os.path.join(args.dir, f"synthetic-{args.gib:g}gib.onnx")
    if not os.path.exists(big):
        build_synthetic(big, args.gib)
    models.append((f"synthetic {args.gib:g} GiB, external data", big))
    for label, src in models:
        outs = {t: os.path.join(args.dir, f"out-{t}.onnx") for t in ("ort", "int8q")}
        best = {}
        for _ in range(args.repeats):
            for tool, dst in outs.items():
                for stale in (dst, dst + ".data"):
                    if os.path.exists(stale):
                        os.unlink(stale)
                r = child(src, dst, tool)
                if tool not in best or r["seconds"] < best[tool]["seconds"]:
                    best[tool] = r
        assert same_initializers(outs["ort"], outs["int8q"]), label
        size = model_bytes(src) / 2**20
        print(f"{label}: {size:.0f} MiB")
        for tool in ("ort", "int8q"):
            r = best[tool]
            print(f"  {tool:6s} {r['seconds']:8.2f} s   peak RSS {r['peak_rss'] / 2**20:8.0f} MiB")
        print(f"  speed-up {best['ort']['seconds'] / best['int8q']['seconds']:.1f}x")


if __name__ == "__main__":
    main()
