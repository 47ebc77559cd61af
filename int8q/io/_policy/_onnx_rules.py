"""How onnxruntime's ``quantize_dynamic`` rewrites an ONNX graph, for the
operators int8q handles: the same nodes, names and initializers.

This follows onnxruntime.quantization (1.32: onnx_quantizer.ONNXQuantizer in
IntegerOps mode, operators/matmul.MatMulInteger, operators/gather.GatherQuant,
operators/direct_q8.Direct8BitOp, base_quantizer.quantize_initializer_impl
and quantize_weight_per_channel_impl, onnx_model.clean_initializers and
topological_sort), step for step, so that the graph written is the one
quantize_dynamic writes:

- MatMul with a constant float B: ``DynamicQuantizeLinear`` on A (uint8,
  per tensor, shared by every MatMul reading A), B quantized once
  (``B_quantized``, ``B_scale``, ``B_zero_point``), then ``MatMulInteger``,
  ``Cast`` to float, and two ``Mul`` (the scales' product, then the output);
- Gather of a float initializer (an embedding table): the table quantized
  as onnxruntime quantizes activations (uint8, asymmetric, per tensor), the
  Gather reading the codes, and a ``DequantizeLinear`` where a float is needed;
- Transpose of a quantized value: transposes the codes;
- Conv and Gemm: see _onnx_conv (Gemm becomes MatMul first, Conv becomes
  ``ConvInteger``);
- any other node reading a quantized value gets it through a
  ``DequantizeLinear``; initializers no node reads any more are dropped,
  and the nodes are put in onnxruntime's topological order.

The parameters (compute_scale_zp): ``rmin = min(0, min x)``,
``rmax = max(0, max x)``, symmetric for int8 weights (``rmax = -rmin =
absmax``); ``scale = (rmax - rmin) / (qmax - qmin)`` in float64, stored as
float32, 1 (zero point 0) below float32's smallest normal; the zero point
``round(qmin - rmin / scale)`` (0 when symmetric); the codes
``saturate(round(x / scale) + zero_point)`` (int8q.quantize with the given
scale and zero point: ONNX QuantizeLinear's arithmetic).

Attention, EmbedLayerNormalization and LSTM are rewritten in
_onnx_contrib (QAttention, QEmbedLayerNormalization, DynamicQuantizeLSTM).

What onnxruntime would do but int8q refuses, with a FormatError, rather than
write something else: ai.onnx opsets below 11 (which onnxruntime converts
first).  Nodes holding subgraphs are not quantized inside (quantize_dynamic's
default): _onnx_subgraphs.  Also refused: float16 weights of a quantized
MatMul or Conv, and float16 Gather tables below opset 19, where
quantize_dynamic writes a model onnxruntime does not load (see _onnx_conv
and docs/guide/onnx.md), and float16 weights of the contrib operators.
"""

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ... import absmax as absmax_of
from ... import quantize as quantize_array
from .._support._errors import FormatError
from . import _onnx_contrib as contrib
from . import _onnx_conv as conv

# onnx.TensorProto.DataType values (spelled here so that the policy needs
# no onnx import to be read; checked against onnx by the tests).
FLOAT, UINT8, INT8, FLOAT16 = 1, 2, 3, 10
TYPE_NAMES = {INT8: "QInt8", UINT8: "QUInt8"}
# quantize_dynamic's default op types (registry.IntegerOpsRegistry)
DEFAULT_OP_TYPES = (
    "Conv",
    "MatMul",
    "Attention",
    "LSTM",
    "Gather",
    "Transpose",
    "EmbedLayerNormalization",
)
HANDLED = ("MatMul", "Gather", "Transpose", "Conv", *contrib.OPS)
QUANT_SUFFIX = "_quantized"  # quant_utils.TENSOR_NAME_QUANT_SUFFIX
MIN_OPSET = 11  # below it onnxruntime converts the model, or builds another graph
_RANGES = {  # (full, symmetric, reduced): quant_utils.ONNX_INT_TYPE_*_RANGE
    INT8: ((-128, 127), (-127, 127), (-64, 64)),
    UINT8: ((0, 255), (0, 255), (0, 127)),
}


class Settings(NamedTuple):
    """quantize_dynamic's arguments, as int8q maps them."""

    weight_type: int = INT8
    per_channel: bool = False
    reduce_range: bool = False
    op_types: tuple[str, ...] = DEFAULT_OP_TYPES
    excluded: Callable[[str], bool] = lambda name: False  # nodes_to_exclude, by node name


class _QValue(NamedTuple):
    q_name: str
    scale_name: str
    zp_name: str
    axis: int | None


def qparams(
    rmin: npt.NDArray[np.float32],
    rmax: npt.NDArray[np.float32],
    qtype: int,
    symmetric: bool,
    reduced: bool,
    half: bool = False,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.float32]]:
    """Zero points (of qtype's dtype) and float32 scales for per-scale ranges
    `rmin`, `rmax` (float32 arrays of one shape): quant_utils.compute_scale_zp.
    With `half` (a float16 tensor) the scales are stored as float16, and 1
    only where that is 0 (compute_scale_zp keeps float16 subnormals)."""
    full, sym, red = _RANGES[qtype]
    qmin, qmax = red if reduced else sym if symmetric else full
    rmin = np.minimum(rmin, np.float32(0))
    rmax = np.maximum(rmax, np.float32(0))
    if symmetric:
        top = np.maximum(np.abs(rmin), np.abs(rmax))
        rmin, rmax = -top, top
    scale64 = (rmax.astype(np.float64) - rmin.astype(np.float64)) / (float(qmax) - float(qmin))
    stored = scale64.astype(np.float16 if half else np.float32)
    tiny = stored == 0 if half else scale64 < np.finfo(np.float32).tiny
    if symmetric:
        zp = np.full(rmin.shape, round((qmin + qmax) / 2.0), np.float64)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            zp = np.round(qmin - rmin.astype(np.float64) / scale64)
    dtype = np.int8 if qtype == INT8 else np.uint8
    zero_points = np.where(tiny, 0, zp).astype(dtype)
    scales = np.where(tiny, np.float32(1), stored.astype(np.float32)).astype(np.float32)
    return zero_points, scales


def quantize_weight(
    x: npt.NDArray[np.float32],
    qtype: int,
    symmetric: bool,
    reduced: bool,
    axis: int | None,
    half: bool = False,
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[np.float32]]:
    """(codes, zero points, scales) of `x` as onnxruntime quantizes an
    initializer: per tensor (`axis` None) or per channel along `axis`;
    `half` for a float16 initializer (`x` holds its values as float32)."""
    if x.size == 0:  # compute_data_quant_params: scale 1, zero point 0
        dtype = np.int8 if qtype == INT8 else np.uint8
        count = 1 if axis is None else x.shape[axis]
        zps, scales = np.zeros(count, dtype), np.ones(count, np.float32)
    elif symmetric:  # (max |x| = max(|min(0, min x)|, |max(0, max x)|))
        top = np.asarray(absmax_of(x, axis=axis), np.float32).reshape(-1)
        zps, scales = qparams(-top, top, qtype, True, reduced, half)
    else:
        others = None if axis is None else tuple(a for a in range(x.ndim) if a != axis)
        rmin = np.asarray(x.min(axis=others), np.float32).reshape(-1)
        rmax = np.asarray(x.max(axis=others), np.float32).reshape(-1)
        zps, scales = qparams(rmin, rmax, qtype, False, reduced, half)
    if axis is None:
        q = quantize_array(x, scale=scales[0], zero_point=zps[0]).q
    else:
        q = quantize_array(x, scale=scales, zero_point=zps, axis=axis).q
    return q, zps, scales


class Rewrite:
    """One graph's rewrite (ONNXQuantizer.quantize_model, dynamic mode).

    `initializers` maps every initializer's name to its TensorProto (their
    data is read through `load(proto) -> float32 array` only for those that
    are quantized); `emit` receives each new initializer TensorProto in the
    order onnxruntime appends them (scale, zero point, codes).
    """

    # (for _onnx_contrib, which this module imports)
    QValue = _QValue
    quantize_weight = staticmethod(quantize_weight)

    def __init__(
        self,
        onnx: Any,
        graph: Any,
        settings: Settings,
        load: Callable[[Any], npt.NDArray[np.float32]],
        emit: Callable[[Any], None],
        where: str,
    ) -> None:
        self.onnx, self.graph, self.settings = onnx, graph, settings
        self.load, self.emit, self.where = load, emit, where
        self.initializers = {t.name: t for t in graph.initializer}
        self.new_nodes: list[Any] = []
        self.new_names: set[str] = set()  # of new_nodes
        self.old_names = {n.name for n in graph.node}
        self.quantized: dict[str, _QValue] = {}
        self.opset = MIN_OPSET  # the model's ai.onnx opset
        inputs = {i.name for i in graph.input}
        self.generated = inputs - set(self.initializers)
        self.tensor_names = inputs | {o.name for o in graph.output}
        self.tensor_names |= {o for n in graph.node for o in n.output}
        # value name -> elem_type, from onnx shape inference (set by the container)
        self.elem_types: dict[str, int] = {}

    # ---- which nodes are quantized ----

    def _wanted(self, node: Any) -> bool:
        """BaseQuantizer.should_quantize_node."""
        s = self.settings
        return node.op_type in s.op_types and not s.excluded(node.name)

    def _float_initializer(self, name: str) -> bool:
        t = self.initializers.get(name)
        return t is not None and t.data_type in (FLOAT, FLOAT16)

    def check(self) -> None:
        """FormatError for a graph that quantize_dynamic would rewrite in a
        way int8q does not reproduce (see the module doc)."""
        # (names that are not UTF-8 were refused when the model was read)
        for node in self.graph.node:
            what = f"{self.where}: node {node.name!r} ({node.op_type})"
            arity = {"MatMul": (2, 1), "Gather": (2, 1), "Transpose": (1, 1), "Conv": (2, 1)}.get(
                node.op_type
            )
            if arity and (len(node.input) < arity[0] or len(node.output) < arity[1]):
                raise FormatError(f"{what} has too few inputs or outputs")
            if (
                node.op_type in DEFAULT_OP_TYPES
                and node.op_type not in HANDLED
                and self._wanted(node)
            ):
                raise FormatError(
                    f"{what}: int8q does not quantize {node.op_type} nodes; "
                    f"leave {node.op_type} out of the op types, or exclude the node"
                )
            if node.op_type == "Conv" and self._wanted(node):
                conv.check_conv(self, node, what)
            weights: tuple[int, ...] = ()
            if node.op_type in contrib.OPS and self._wanted(node):
                contrib.check(node, what)
                weights = contrib.WEIGHTS[node.op_type]
            elif node.op_type == "MatMul" and self._wanted(node):
                weights = (1,)
            elif node.op_type == "Gather" and self._wanted(node):
                weights = (0,)
            for index in weights:
                t = self.initializers.get(node.input[index] if index < len(node.input) else "")
                if t is not None and t.data_type == FLOAT16:
                    conv.check_float16(self, node, what, t)

    # ---- the rewrite ----

    def run(self) -> None:
        for node in self.graph.node:
            op = node.op_type
            if op == "MatMul" and self._wanted(node) and self._matmul_applies(node):
                self._matmul(node)
            elif op == "Gather" and self._wanted(node) and self._float_initializer(node.input[0]):
                self._gather(node)
            elif op == "Transpose" and self._wanted(node) and self._transpose_applies(node):
                self._transpose(node)
            elif op == "Conv" and self._wanted(node) and conv.conv_applies(self, node):
                conv.conv(self, node)
            elif op in contrib.OPS and self._wanted(node) and contrib.rewrite(self, node):
                pass
            else:
                self._dequantize_inputs(node)
                self._add(node)
        for out in self.graph.output:
            dq = self._dequantize(out.name)
            if dq is not None:
                self._add(dq)
        self.graph.ClearField("node")
        self.graph.node.extend(self.new_nodes)

    def _add(self, *nodes: Any) -> None:
        for node in nodes:
            self.new_nodes.append(node)
            self.new_names.add(node.name)
            self.generated.update(node.output)

    def _matmul_applies(self, node: Any) -> bool:
        """QOpMatMul.should_quantize with MatMulConstBOnly (a float B that
        is an initializer; a non-float one means a non-float MatMul)."""
        return len(node.input) > 1 and self._float_initializer(node.input[1])

    def _transpose_applies(self, node: Any) -> bool:
        # QuantOperatorBase.should_quantize: a float input (a quantized
        # value always is one), then Direct8BitOp: only when it is quantized.
        return bool(node.input) and node.input[0] in self.quantized

    def _inputs(
        self, node: Any, index: int, weight: bool, per_channel: bool = True
    ) -> tuple[str, str, str, list[Any]]:
        """ONNXQuantizer.__quantize_inputs for one input: (codes, zero point,
        scale names, new nodes); `per_channel` False for an operator that
        never asks for channels (ConvInteger)."""
        name = node.input[index]
        if name in self.quantized:
            v = self.quantized[name]
            return v.q_name, v.zp_name, v.scale_name, []
        if name in self.initializers:
            s = self.settings
            qtype = s.weight_type if weight else UINT8
            channels = weight and per_channel and s.per_channel
            v = self._quantize_initializer(name, qtype, weight and s.reduce_range, channels)
            return v.q_name, v.zp_name, v.scale_name, []
        if name in self.tensor_names or name in self.generated:
            # a DynamicQuantizeLinear (fused: opset >= 11, uint8 activations)
            dql_name = name + "_QuantizeLinear"
            nodes: list[Any] = []
            dql = self._find(dql_name)
            if dql is None:
                outputs = [name + QUANT_SUFFIX, name + "_scale", name + "_zero_point"]
                dql = self.onnx.helper.make_node("DynamicQuantizeLinear", [name], outputs, dql_name)
                self.quantized[name] = _QValue(outputs[0], outputs[1], outputs[2], None)
                nodes.append(dql)
            return dql.output[0], dql.output[2], dql.output[1], nodes
        raise FormatError(f"{self.where}: node {node.name!r} reads {name!r}, which nothing defines")

    def _find(self, name: str) -> Any:
        """ONNXModel.find_node_by_name over the original and new nodes."""
        for node in (*self.graph.node, *self.new_nodes):
            if node.name == name:
                return node
        return None

    def _quantize_initializer(
        self, name: str, qtype: int, reduced: bool, per_channel: bool
    ) -> _QValue:
        """quantize_initializer(_impl) / quantize_weight_per_channel(_impl):
        the first quantization of an initializer is reused by every node."""
        if name in self.quantized:
            return self.quantized[name]
        t = self.initializers[name]
        if t.data_type not in (FLOAT, FLOAT16):  # (check() refuses float16 where it must)
            raise FormatError(
                f"{self.where}: initializer {name!r} is not float32; int8q quantizes float32 weights only"
            )
        x = self.load(t)
        symmetric = qtype == INT8  # BaseQuantizer.is_weight_symmetric; activations: asymmetric
        axis = None
        if per_channel:
            if x.ndim == 0:
                raise FormatError(
                    f"{self.where}: weight {name!r} is 0-d; per channel needs an axis"
                )
            axis = x.ndim - 1  # MatMul's per-channel axis is -1
        q, zps, scales = quantize_weight(x, qtype, symmetric, reduced, axis, t.data_type == FLOAT16)
        del x
        helper = self.onnx.helper
        dims = [] if axis is None else [int(t.dims[axis])]
        v = _QValue(
            name + QUANT_SUFFIX, name + "_scale", name + "_zero_point", -1 if per_channel else None
        )
        for proto in (
            helper.make_tensor(v.scale_name, t.data_type, dims, scales.tolist()),
            helper.make_tensor(v.zp_name, qtype, dims, zps.tolist()),
            self.onnx.numpy_helper.from_array(q.reshape(tuple(t.dims)), v.q_name),
        ):
            self.initializers[proto.name] = proto
            self.emit(proto)
        self.quantized[name] = v
        return v

    def _matmul(self, node: Any) -> None:
        """MatMulInteger.quantize."""
        helper = self.onnx.helper
        qa, zpa, sa, nodes = self._inputs(node, 0, weight=False)
        qb, zpb, sb, _ = self._inputs(node, 1, weight=True)
        out = node.output[0] + "_output_quantized"
        name = node.name + "_quant" if node.name else ""
        nodes.append(helper.make_node("MatMulInteger", [qa, qb, zpa, zpb], [out], name))
        nodes += self.scaled_output(out, sa, sb, name, FLOAT, node.output[0])
        self._add(*nodes)

    def scaled_output(
        self, out: str, sa: str, sb: str, name: str, to: int, result: str
    ) -> list[Any]:
        """The nodes after an integer op (MatMulInteger, ConvInteger) whose
        output is `out`: a Cast to `to`, times the product of the inputs'
        scales `sa` and `sb` into `result`.  The product's Mul is shared by
        name with a node already added, as onnxruntime shares it."""
        helper = self.onnx.helper
        cast_out = out + "_cast_output"
        nodes = [helper.make_node("Cast", [out], [cast_out], out + "_cast", to=to)]
        mul_name = name + "_scales_mul" if name else sa + "_" + sb + "_mul"
        mul = next((n for n in self.new_nodes if n.name == mul_name), None)
        if mul is None:
            mul = helper.make_node("Mul", [sa, sb], [mul_name + ":0"], mul_name)
            nodes.append(mul)
        scale_out = name + "_output_scale_mul" if name else ""
        nodes.append(helper.make_node("Mul", [cast_out, mul.output[0]], [result], scale_out))
        return nodes

    def _gather(self, node: Any) -> None:
        """GatherQuant.quantize: the table quantized as an activation."""
        q, zp, scale, nodes = self._inputs(node, 0, weight=False)
        out = node.output[0] + QUANT_SUFFIX
        self.quantized[node.output[0]] = _QValue(out, scale, zp, None)
        node.output[0] = out
        node.input[0] = q
        self._add(*nodes, node)

    def _transpose(self, node: Any) -> None:
        """Direct8BitOp.quantize: the codes transposed, same scale."""
        v = self.quantized[node.input[0]]
        out = node.output[0] + QUANT_SUFFIX
        self.quantized[node.output[0]] = _QValue(out, v.scale_name, v.zp_name, None)
        node.input[0] = v.q_name
        node.output[0] = out
        self._add(node)

    def _dequantize_inputs(self, node: Any) -> None:
        """QuantOperatorBase.quantize: a DequantizeLinear for each quantized input."""
        for name in node.input:
            dq = self._dequantize(name)
            if dq is not None:
                self._add(dq)

    def _dequantize(self, name: str) -> Any:
        """ONNXQuantizer._dequantize_value."""
        if name not in self.quantized or name in self.generated:
            return None
        v = self.quantized[name]
        scale = self.initializers.get(v.scale_name)
        if (
            v.axis is None
            and scale is not None
            and len(scale.dims)
            and int(np.prod(scale.dims)) != 1
        ):
            # (onnxruntime fails an assertion here: per channel codes moved
            # by a Transpose have no axis to dequantize along)
            raise FormatError(
                f"{self.where}: {name!r} would be dequantized per channel without an axis; "
                "leave Transpose out of the op types with per_channel"
            )
        dq_name = name + "_DequantizeLinear"
        if self._find(dq_name) is not None:
            return None
        inputs = [v.q_name, v.scale_name, v.zp_name]
        return self.onnx.helper.make_node("DequantizeLinear", inputs, [name], dq_name, axis=v.axis)


def unused_initializers(graph: Any) -> list[str]:
    """The names of initializers no node and no output reads
    (onnx_model._clean_initializers_helper, no subgraphs)."""
    wanted = {i for n in graph.node for i in n.input if i} | {
        o.name for o in graph.output if o.name
    }
    wanted -= {o for n in graph.node for o in n.output}
    return [t.name for t in graph.initializer if t.name not in wanted]


def drop_initializers(graph: Any, names: Iterable[str]) -> None:
    """Remove initializers `names`, and the graph inputs of those names."""
    gone = set(names)
    kept = [t for t in graph.initializer if t.name not in gone]
    inputs = [i for i in graph.input if i.name not in gone]
    graph.ClearField("initializer")
    graph.initializer.extend(kept)
    graph.ClearField("input")
    graph.input.extend(inputs)


def topological_sort(graph: Any) -> None:
    """onnx_model.ONNXModel.topological_sort, the order quantize_dynamic saves."""
    nodes = list(graph.node)
    deps = [0] * len(nodes)
    readers: dict[str, list[int]] = {}
    ordered: list[int] = []
    for i, node in enumerate(nodes):
        deps[i] = sum(1 for name in node.input if name)
        if deps[i] == 0:
            ordered.append(i)
            continue
        for name in node.input:
            if name:
                readers.setdefault(name, []).append(i)
    names = sorted({t.name for t in graph.initializer} | {i.name for i in graph.input})
    for name in names:
        for i in readers.get(name, ()):
            deps[i] -= 1
            if deps[i] == 0:
                ordered.append(i)
    start = 0
    while start < len(ordered):
        for name in nodes[ordered[start]].output:
            for i in readers.get(name, ()):
                deps[i] -= 1
                if deps[i] == 0:
                    ordered.append(i)
        start += 1
    if len(ordered) != len(nodes):
        raise FormatError("the graph has a cycle, or a node reads a value nothing defines")
    graph.ClearField("node")
    graph.node.extend(nodes[i] for i in ordered)
