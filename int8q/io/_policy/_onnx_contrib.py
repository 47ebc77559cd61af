"""How quantize_dynamic rewrites Attention, EmbedLayerNormalization and
LSTM: the com.microsoft operators that onnxruntime's transformer optimizer
(``onnxruntime.transformers.optimizer.optimize_model``) fuses a BERT graph
into, and the recurrent layer.  Each function takes the graph's
_onnx_rules.Rewrite and a node, and follows onnxruntime 1.32 step for step:

- ``Attention`` (operators/attention.AttentionQuant) becomes ``QAttention``:
  the input through a ``DynamicQuantizeLinear`` (shared, as for MatMul), the
  packed QKV weight quantized as MatMul's B is (int8 symmetric by default,
  per channel with ``per_channel``, ``reduce_range`` honoured); inputs
  ``[input, weight, bias, input_scale, weight_scale, mask_index,
  input_zero_point, weight_zero_point, past]``, the node's attributes.
  An Attention with ``qkv_hidden_sizes`` is left in float, as onnxruntime
  leaves it.
- ``EmbedLayerNormalization`` (operators/embed_layernorm) becomes
  ``QEmbedLayerNormalization``: the word, position and segment tables and
  gamma and beta quantized as activations (uint8, asymmetric, per tensor,
  whatever the weight type); left in float when the node has 3 outputs.
- ``LSTM`` (operators/lstm.LSTMQuant) becomes ``DynamicQuantizeLSTM``: W and
  R quantized to int8, symmetric, always per channel along their first
  axis (one scale per direction; with ``per_channel``, one per direction
  and gate row, stored as ``[num_directions, 4 * hidden_size]``), whatever
  the weight type; the codes stored transposed to ``[num_directions,
  input_size or hidden_size, 4 * hidden_size]``, and appended after all
  four scales and zero points; the ``layout`` attribute dropped.
  An LSTM whose W or R is not a 3-d float initializer, or whose X is not
  known to be float, is left in float.

int8q refuses (FormatError) what onnxruntime would turn into something
that cannot run: an ``Attention`` or ``EmbedLayerNormalization`` outside
the com.microsoft domain (ONNX opset 23 has its own Attention, with other
inputs), and these nodes with too few inputs.
"""

from typing import Any

import numpy as np

from .._support._errors import FormatError

MS_DOMAIN = "com.microsoft"
OPS = ("Attention", "EmbedLayerNormalization", "LSTM")
# the inputs each one quantizes as a weight (float16 ones are refused)
WEIGHTS = {"Attention": (1,), "EmbedLayerNormalization": (2, 3, 4, 5, 6), "LSTM": (1, 2)}
_MIN_INPUTS = {"Attention": 3, "EmbedLayerNormalization": 7, "LSTM": 3}
FLOAT, INT8, FLOAT16 = 1, 3, 10
# AttributeProto type -> the field attribute_to_kwarg reads
_FIELDS = {1: "f", 2: "i", 3: "s", 4: "t", 5: "g", 6: "floats", 7: "ints", 8: "strings"}
_FIELDS.update({9: "tensors", 10: "graphs"})


def check(node: Any, what: str) -> None:
    """FormatError for a node of OPS that onnxruntime would rewrite into a
    model that does not run (Rewrite.check calls this for wanted nodes)."""
    op = node.op_type
    if op != "LSTM" and node.domain != MS_DOMAIN:
        domain = node.domain or "ai.onnx"
        raise FormatError(
            f"{what} is in the {domain} domain; onnxruntime would rewrite it as the "
            f"{MS_DOMAIN} operator, which it is not (leave {op} out of the op types, "
            "or exclude the node)"
        )
    if len(node.input) < _MIN_INPUTS[op] or not node.output:
        raise FormatError(f"{what} has too few inputs or outputs")


def rewrite(rw: Any, node: Any) -> bool:
    """Quantize `node` (one of OPS, wanted) as onnxruntime does; False when
    onnxruntime leaves it in float (nothing has been added then)."""
    if node.op_type == "Attention":
        return _attention(rw, node)
    if node.op_type == "EmbedLayerNormalization":
        return _embed_layer_norm(rw, node)
    return _lstm(rw, node)


def add_ms_opset(model: Any) -> None:
    """quantize_model: the com.microsoft opset (version 1) is imported when
    a node of that domain is in the graph and the model imports none."""
    if any(o.domain == MS_DOMAIN for o in model.opset_import):
        return
    if any(n.domain == MS_DOMAIN for n in model.graph.node):
        opset = model.opset_import.add()
        opset.version, opset.domain = 1, MS_DOMAIN


def attribute_kwargs(node: Any, a: Any, where: str) -> dict[str, Any]:
    """quant_utils.attribute_to_kwarg: {name: value} for make_node."""
    if a.type not in _FIELDS:
        raise FormatError(f"{where}: node {node.name!r}: attribute {a.name!r} has no usable type")
    return {a.name: getattr(a, _FIELDS[a.type])}


def _kwargs(node: Any, where: str, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in node.attribute:
        if a.name not in drop:
            out.update(attribute_kwargs(node, a, where))
    return out


def _make(rw: Any, op: str, inputs: list[str], node: Any, drop: tuple[str, ...] = ()) -> Any:
    name = node.name + "_quant" if node.name else ""
    try:
        return rw.onnx.helper.make_node(
            op, inputs, list(node.output), name, domain=MS_DOMAIN, **_kwargs(node, rw.where, drop)
        )
    except (ValueError, TypeError) as exc:  # onnx.helper.make_attribute, as in onnxruntime
        raise FormatError(f"{rw.where}: node {node.name!r} ({node.op_type}): {exc}") from None


def _attention(rw: Any, node: Any) -> bool:
    if any(a.name == "qkv_hidden_sizes" for a in node.attribute):
        return False  # (onnxruntime has no QAttention for unequal Q, K, V sizes)
    qa, zpa, sa, nodes = rw._inputs(node, 0, weight=False)
    qw, zpw, sw, more = rw._inputs(node, 1, weight=True)
    nodes.extend(more)
    extra = list(node.input)
    inputs = [qa, qw, extra[2], sa, sw, extra[3] if len(extra) > 3 else "", zpa, zpw]
    inputs.append(extra[4] if len(extra) > 4 else "")
    nodes.append(_make(rw, "QAttention", inputs, node))
    rw._add(*nodes)
    return True


def _embed_layer_norm(rw: Any, node: Any) -> bool:
    if len(node.output) > 2:
        return False
    q: list[str] = []
    zp: list[str] = []
    scale: list[str] = []
    nodes: list[Any] = []
    for index in range(2, 7):
        if not node.input[index]:  # an optional segment table
            qi, zpi, si, more = "", "", "", []
        else:
            qi, zpi, si, more = rw._inputs(node, index, weight=False)
        q.append(qi)
        zp.append(zpi)
        scale.append(si)
        nodes.extend(more)
    mask = node.input[7] if len(node.input) > 7 else ""
    inputs = [node.input[0], node.input[1], *q, mask, *scale, *zp]
    nodes.append(_make(rw, "QEmbedLayerNormalization", inputs, node))
    rw._add(*nodes)
    return True


def _float_input(rw: Any, name: str) -> bool:
    """ONNXQuantizer.is_float_tensor: a float initializer, or a value that
    shape inference typed float32 or float16."""
    if name in rw.initializers:
        return bool(rw.initializers[name].data_type in (FLOAT, FLOAT16))
    return rw.elem_types.get(name) in (FLOAT, FLOAT16)


def _lstm(rw: Any, node: Any) -> bool:
    if not _float_input(rw, node.input[0]):
        return False  # QuantOperatorBase.should_quantize
    w_name, r_name = node.input[1], node.input[2]
    tensors = [rw.initializers.get(w_name), rw.initializers.get(r_name)]
    if any(t is None or t.data_type not in (FLOAT, FLOAT16) for t in tensors):
        return False
    if any(len(t.dims) != 3 for t in tensors):
        return False
    if w_name in rw.quantized or r_name in rw.quantized or w_name == r_name:
        raise FormatError(
            f"{rw.where}: node {node.name!r} (LSTM) shares its W or R with another "
            "quantized node; int8q does not quantize such models"
        )
    helper = rw.onnx.helper
    per_channel = rw.settings.per_channel
    codes = []
    for t in tensors:
        name = t.name
        if t.data_type != FLOAT:
            raise FormatError(f"{rw.where}: float16 weight {name!r}; int8q quantizes float32 only")
        x = rw.load(t)
        dirs, rows, cols = (int(d) for d in t.dims)
        if per_channel:  # one scale per direction and gate row
            x = x.reshape(dirs * rows, cols)
        q, zps, scales = rw.quantize_weight(x, INT8, True, rw.settings.reduce_range, 0)
        del x
        dims = [dirs, rows] if per_channel else [dirs]
        for proto in (
            helper.make_tensor(name + "_scale", t.data_type, dims, scales.tolist()),
            helper.make_tensor(name + "_zero_point", INT8, dims, zps.tolist()),
        ):
            rw.initializers[proto.name] = proto
            rw.emit(proto)
        q = np.ascontiguousarray(q.reshape(dirs, rows, cols).transpose(0, 2, 1))
        codes.append(rw.onnx.numpy_helper.from_array(q, name + "_quantized"))
        rw.quantized[name] = rw.QValue(
            name + "_quantized", name + "_scale", name + "_zero_point", 0
        )
    for proto in codes:  # (onnxruntime removes and re-adds the transposed codes)
        rw.initializers[proto.name] = proto
        rw.emit(proto)
    inputs = [node.input[0], w_name + "_quantized", r_name + "_quantized"]
    inputs += [node.input[i] if len(node.input) > i else "" for i in range(3, 8)]
    inputs += [w_name + "_scale", w_name + "_zero_point", r_name + "_scale", r_name + "_zero_point"]
    rw._add(_make(rw, "DynamicQuantizeLSTM", inputs, node, drop=("layout",)))
    dq = rw._dequantize(node.input[0])
    if dq is not None:
        rw._add(dq)
    return True
