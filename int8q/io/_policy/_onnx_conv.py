"""Conv and Gemm as onnxruntime's ``quantize_dynamic`` rewrites them (the
operator rules beside _onnx_rules.Rewrite, which calls them).

- Gemm (onnx_model.ONNXModel.replace_gemm_with_matmul, done before anything
  is quantized): a Gemm with ``alpha == beta == 1`` and ``transA == 0``
  becomes ``NAME_MatMul`` (output ``Y_MatMul`` when there is a C, then
  ``NAME_Add`` adding C into Y; else output Y).  With ``transB == 1`` an
  initializer B is replaced by a new initializer ``B_Transposed`` (a suffix
  ``_1``, ``_2``... when the name is taken), B transposed; a B that is not
  an initializer goes through a ``NAME_Transpose`` node.  Any other Gemm is
  left as it is.  The MatMul rule then applies to the new MatMul.  Gemm
  nodes inside subgraphs are rewritten too (B looked up from the innermost
  graph out, ``B_Transposed`` added to the subgraph).
- Conv (operators/conv.ConvInteger): ``DynamicQuantizeLinear`` on X, the
  weight quantized per tensor (also with ``per_channel``: onnxruntime's
  ConvInteger does not ask for channels), ``ConvInteger`` with the Conv's
  attributes, ``Cast``, the two ``Mul`` of the MatMul rule, and with a bias
  B a ``Reshape`` of B to ``(1, -1, 1, ...)`` (shape initializer
  ``Y_bias_reshape_shape``) and ``Y_bias_add``.  A weight that is not an
  initializer goes through a ``DynamicQuantizeLinear`` (uint8) too.

Refused, with a FormatError, where quantize_dynamic fails or writes a model
onnxruntime does not load: a quantized Conv or MatMul on float16
(DynamicQuantizeLinear takes float32 only), a quantized Gather of a float16
table below opset 19 (DequantizeLinear takes a float16 scale from opset 19),
a Conv bias with a weight that is not an initializer, an empty bias input.
A float16 table of a Gather at opset 19 or later is quantized as a float32
one, its scale stored as float16 (compute_scale_zp).
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from .._support._errors import FormatError

FLOAT, FLOAT16, INT64 = 1, 10, 7
GRAPH, GRAPHS = 5, 10  # onnx.AttributeProto types
TRANSPOSED = "_Transposed"
# the names quantization derives from an initializer's
_DERIVED = ("", "_quantized", "_scale", "_zero_point")


def _gemm_attrs(node: Any, helper: Any) -> tuple[Any, Any, Any, Any]:
    alpha, beta, trans_a, trans_b = 1.0, 1.0, 0, 0
    for attr in node.attribute:
        if attr.name == "alpha":
            alpha = helper.get_attribute_value(attr)
        elif attr.name == "beta":
            beta = helper.get_attribute_value(attr)
        elif attr.name == "transA":
            trans_a = helper.get_attribute_value(attr)
        elif attr.name == "transB":
            trans_b = helper.get_attribute_value(attr)
    return alpha, beta, trans_a, trans_b


def rewritten(node: Any, helper: Any) -> bool:
    """Whether onnxruntime turns this node into a MatMul (any domain: it
    looks at op_type only)."""
    if node.op_type != "Gemm":
        return False
    alpha, beta, trans_a, _ = _gemm_attrs(node, helper)
    return bool(alpha == 1.0 and beta == 1.0 and trans_a == 0)


def gemm_names(onnx: Any, graph: Any) -> list[str]:
    """The names of the nodes that replace_gemm makes (what --skip may name,
    as nodes_to_exclude sees the graph after the rewrite)."""
    initializers = {t.name for t in graph.initializer}
    names = []
    for node in graph.node:
        if node.name and rewritten(node, onnx.helper) and len(node.input) > 1:
            trans_b = _gemm_attrs(node, onnx.helper)[3] == 1
            if trans_b and node.input[1] not in initializers:
                names.append(node.name + "_Transpose")
            names.append(node.name + "_MatMul")
            if len(node.input) > 2:
                names.append(node.name + "_Add")
    return names


def _inner(node: Any) -> list[Any]:
    """The subgraphs a node holds, in attribute order."""
    found: list[Any] = []
    for a in node.attribute:
        found += [a.g] if a.type == GRAPH else list(a.graphs) if a.type == GRAPHS else []
    return found


def has_gemm(onnx: Any, graph: Any) -> bool:
    """Whether replace_gemm changes anything in `graph` or its subgraphs."""
    return any(
        rewritten(n, onnx.helper) or any(has_gemm(onnx, g) for g in _inner(n)) for n in graph.node
    )


def _names(graph: Any, names: set[str]) -> None:
    names.update(t.name for t in graph.initializer)
    names.update(v.name for v in (*graph.input, *graph.output, *graph.value_info))
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
        for g in _inner(node):
            _names(g, names)


def replace_gemm(
    onnx: Any, graph: Any, where: str, read: Callable[[Any], np.ndarray]
) -> dict[str, str]:
    """replace_gemm_with_matmul, subgraphs included.  Each new
    ``B_Transposed`` initializer of the main graph is appended with its
    type and dims but no data (it is read from B when it is quantized;
    `fill_transposed` writes the data of one that stays float); one in a
    subgraph, where nothing is quantized, gets its data at once (`read`
    gives a B's values).  Returns {main graph's transposed name: B's name}."""
    names: set[str] = set()
    _names(graph, names)
    sources: dict[str, str] = {}
    _replace(onnx, [graph], names, sources, where, read)
    return sources


def _replace(
    onnx: Any,
    path: list[Any],
    names: set[str],
    sources: dict[str, str],
    where: str,
    read: Callable[[Any], np.ndarray],
) -> None:
    helper = onnx.helper
    graph = path[-1]
    done: dict[str, str] = {}  # B -> its transposed initializer (per graph)
    new_nodes: list[Any] = []
    changed = False
    for node in graph.node:
        for g in _inner(node):  # (onnxruntime also rebuilds the node: _onnx_subgraphs.clean)
            _replace(onnx, [*path, g], names, sources, where, read)
        if not rewritten(node, helper):
            new_nodes.append(node)
            continue
        if len(node.input) < 2 or not node.output:
            raise FormatError(f"{where}: node {node.name!r} (Gemm) has too few inputs or outputs")
        changed = True
        b = node.input[1]
        if _gemm_attrs(node, helper)[3] == 1:
            # (the innermost graph's initializer of that name, as __get_initializer)
            source = next((t for g in reversed(path) for t in g.initializer if t.name == b), None)
            if source is not None:
                if b not in done:
                    name, suffix = b + TRANSPOSED, 0
                    while any(name + s in names for s in _DERIVED):
                        suffix += 1
                        name = f"{b}{TRANSPOSED}_{suffix}"
                    names.update(name + s for s in _DERIVED)
                    shell = graph.initializer.add()
                    shell.name, shell.data_type = name, source.data_type
                    shell.dims.extend(reversed(source.dims))
                    if len(path) > 1:
                        fill_transposed(shell, read(source))
                    else:
                        sources[name] = b
                    done[b] = name
                b = done[b]
            else:
                b += TRANSPOSED
                new_nodes.append(
                    helper.make_node(
                        "Transpose",
                        inputs=[node.input[1]],
                        outputs=[b],
                        name=node.name + "_Transpose" if node.name else "",
                    )
                )
        bias = len(node.input) > 2
        new_nodes.append(
            helper.make_node(
                "MatMul",
                inputs=[node.input[0], b],
                outputs=[node.output[0] + ("_MatMul" if bias else "")],
                name=node.name + "_MatMul" if node.name else "",
            )
        )
        if bias:
            new_nodes.append(
                helper.make_node(
                    "Add",
                    inputs=[node.output[0] + "_MatMul", node.input[2]],
                    outputs=node.output,
                    name=node.name + "_Add" if node.name else "",
                )
            )
    if changed:
        graph.ClearField("node")
        graph.node.extend(new_nodes)


def fill_transposed(shell: Any, source: np.ndarray) -> None:
    """Give a ``B_Transposed`` initializer that stays float its data
    (numpy_helper.from_array of B's values transposed)."""
    shell.raw_data = np.ascontiguousarray(source.T).tobytes()


# ---- Conv ----


def _float(rewrite: Any, name: str) -> bool:
    """ONNXQuantizer.is_float_tensor: a float initializer, or a value whose
    inferred type is float."""
    t = rewrite.initializers.get(name)
    if t is not None:
        return bool(t.data_type in (FLOAT, FLOAT16))
    return rewrite.elem_types.get(name) in (FLOAT, FLOAT16)


def _type(rewrite: Any, name: str) -> int | None:
    t = rewrite.initializers.get(name)
    return int(t.data_type) if t is not None else rewrite.elem_types.get(name)


def conv_applies(rewrite: Any, node: Any) -> bool:
    """QuantOperatorBase.should_quantize: a float X."""
    return _float(rewrite, node.input[0])


def check_conv(rewrite: Any, node: Any, what: str) -> None:
    """FormatError for a Conv that quantize_dynamic fails on, or turns into
    a model onnxruntime does not load."""
    if not conv_applies(rewrite, node):
        return
    if FLOAT16 in (_type(rewrite, node.input[0]), _type(rewrite, node.input[1])):
        raise FormatError(
            f"{what}: float16; quantize_dynamic writes a model onnxruntime does not load "
            "(its DynamicQuantizeLinear takes float32 only), so int8q refuses it"
        )
    if len(node.input) > 2:
        if not node.input[2]:
            raise FormatError(f"{what} has an empty bias input")
        weight = rewrite.initializers.get(node.input[1])
        if weight is None:
            raise FormatError(
                f"{what}: a bias with a weight that is not an initializer "
                "(onnxruntime's ConvInteger needs the weight's rank)"
            )
        if len(weight.dims) < 2:
            raise FormatError(f"{what}: weight {weight.name!r} has fewer than 2 dims")
    if rewrite.elem_types.get(node.output[0]) in (None, 0):
        raise FormatError(f"{what}: onnx shape inference gives no type for {node.output[0]!r}")


def check_float16(rewrite: Any, node: Any, what: str, weight: Any) -> None:
    """FormatError for a quantized node with a float16 initializer, except a
    Gather at opset 19 or later: only there does quantize_dynamic's model
    load in onnxruntime."""
    if node.op_type == "Gather" and rewrite.opset >= 19:
        return
    if node.op_type not in ("Gather", "MatMul", "Conv"):
        raise FormatError(
            f"{what}: float16 weight {weight.name!r}; int8q quantizes float32 weights only"
        )
    if node.op_type == "Gather":
        why = "onnxruntime's DequantizeLinear takes a float16 scale from opset 19"
    else:
        why = "onnxruntime's DynamicQuantizeLinear takes float32 only"
    raise FormatError(
        f"{what}: float16 weight {weight.name!r}; quantize_dynamic writes a model "
        f"onnxruntime does not load ({why}), so int8q refuses it"
    )


def _kwargs(onnx: Any, node: Any) -> dict[str, Any]:
    """quant_utils.attribute_to_kwarg over the node's attributes."""
    fields = {1: "f", 2: "i", 3: "s", 4: "t", 5: "g", 6: "floats", 7: "ints"}
    fields.update({8: "strings", 9: "tensors", 10: "graphs"})
    kwargs = {}
    for attr in node.attribute:
        if attr.type not in fields:
            raise FormatError(f"{node.name!r}: attribute {attr.name!r} has type {attr.type}")
        kwargs[attr.name] = getattr(attr, fields[attr.type])
    return kwargs


def conv(rewrite: Any, node: Any) -> None:
    """ConvInteger.quantize (and add_bias)."""
    onnx = rewrite.onnx
    helper = onnx.helper
    qx, zpx, sx, nodes = rewrite._inputs(node, 0, weight=False)
    qw, zpw, sw, more = rewrite._inputs(node, 1, weight=True, per_channel=False)
    nodes += more
    out = node.output[0] + "_output_quantized"
    name = node.name + "_quant" if node.name else ""
    try:
        integer = helper.make_node(
            "ConvInteger", [qx, qw, zpx, zpw], [out], name, **_kwargs(onnx, node)
        )
    except (ValueError, TypeError) as exc:
        raise FormatError(f"{rewrite.where}: node {node.name!r} (Conv): {exc}") from None
    nodes.append(integer)
    bias = len(node.input) == 3
    scaled = node.output[0] + "quant_scaled_output" if bias else node.output[0]
    nodes += rewrite.scaled_output(out, sx, sw, name, rewrite.elem_types[node.output[0]], scaled)
    if bias:
        weight = rewrite.initializers[node.input[1]]
        output = node.output[0]
        shape_name = output + "_bias_reshape_shape"
        reshaped = output + "_bias_reshape_output"
        if shape_name not in rewrite.initializers:  # ONNXModel.add_initializer
            shape = np.ones(len(weight.dims), np.int64)
            shape[1] = -1
            proto = helper.make_tensor(shape_name, INT64, [len(weight.dims)], shape)
            rewrite.initializers[shape_name] = proto
            rewrite.emit(proto)
        nodes.append(helper.make_node("Reshape", [node.input[2], shape_name], [reshaped]))
        nodes.append(helper.make_node("Add", [scaled, reshaped], [output], output + "_bias_add"))
    rewrite._add(*nodes)
