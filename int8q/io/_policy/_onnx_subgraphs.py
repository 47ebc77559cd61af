"""What quantize_dynamic does to nodes that hold subgraphs (If, Loop,
Scan): with its defaults (``EnableSubgraph`` off) it quantizes nothing
inside them, and treats the node as any other node it does not quantize
(a ``DequantizeLinear`` for each quantized input).  Its last step,
onnx_model._clean_initializers_helper, then walks every subgraph:

- each subgraph's initializers that nothing in it reads are dropped (and
  the subgraph inputs of those names);
- each node holding subgraphs is rebuilt with ``onnx.helper.make_node``
  (attributes sorted by name; its domain and doc string dropped);
- the names a subgraph reads from the enclosing graphs keep those
  graphs' initializers, and a name that nothing defines any more (a value
  int8q quantized that only a subgraph reads) makes it fail: int8q
  refuses such a model instead.

The subgraphs written are the ones onnx shape inference returns (with its
value_info), as quantize_dynamic infers shapes before quantizing.
"""

from typing import Any

from .._support._errors import FormatError
from . import _onnx_contrib as contrib
from ._onnx_rules import drop_initializers

GRAPH, GRAPHS = 5, 10  # onnx.AttributeProto.GRAPH, GRAPHS


def holds_subgraph(node: Any) -> bool:
    return any(a.type in (GRAPH, GRAPHS) for a in node.attribute)


def subgraphs(graph: Any) -> list[Any]:
    """Every subgraph at any depth under `graph`'s nodes."""
    found = []
    for node in graph.node:
        for a in node.attribute:
            inner = [a.g] if a.type == GRAPH else list(a.graphs) if a.type == GRAPHS else []
            for g in inner:
                found.append(g)
                found.extend(subgraphs(g))
    return found


def use_inferred(graph: Any, inferred: Any, where: str) -> None:
    """Give `graph`'s nodes the subgraph attributes of onnx shape
    inference's graph `inferred` (the same nodes, in the same order)."""
    changed = FormatError(f"{where}: onnx shape inference changed the graph's nodes")
    if len(graph.node) != len(inferred.node):
        raise changed
    for node, typed in zip(graph.node, inferred.node, strict=True):
        if not holds_subgraph(node):
            continue
        if [a.name for a in node.attribute] != [b.name for b in typed.attribute]:
            raise changed
        for a, b in zip(node.attribute, typed.attribute, strict=True):
            if a.type in (GRAPH, GRAPHS):
                a.CopyFrom(b)
    for g in subgraphs(graph):
        if any(t.data_location == 1 for t in g.initializer):  # EXTERNAL
            raise FormatError(
                f"{where}: subgraph {g.name!r} holds tensors in external data; "
                "int8q reads external data of the main graph's initializers only"
            )


def clean(onnx: Any, graph: Any, where: str) -> set[str]:
    """Clean the subgraphs of `graph`'s nodes (see the module doc) and
    rebuild the nodes that hold them; the names they read from outside."""
    requested: set[str] = set()
    for index, node in enumerate(graph.node):
        if not holds_subgraph(node):
            continue
        kwargs: dict[str, Any] = {}
        for a in node.attribute:
            if a.type == GRAPH:
                requested |= _clean_graph(onnx, a.g, where)
                kwargs[a.name] = a.g
            elif a.type == GRAPHS:
                for g in a.graphs:
                    requested |= _clean_graph(onnx, g, where)
                kwargs[a.name] = list(a.graphs)
            else:
                kwargs.update(contrib.attribute_kwargs(node, a, where))
        try:
            new = onnx.helper.make_node(
                node.op_type, node.input, node.output, name=node.name, **kwargs
            )
        except (ValueError, TypeError) as exc:  # onnx.helper.make_attribute
            raise FormatError(f"{where}: node {node.name!r} ({node.op_type}): {exc}") from None
        graph.node[index].CopyFrom(new)
    return requested


def _clean_graph(onnx: Any, g: Any, where: str) -> set[str]:
    wanted = {i for n in g.node for i in n.input if i} | {o.name for o in g.output if o.name}
    wanted |= clean(onnx, g, where)
    wanted -= {o for n in g.node for o in n.output}
    drop_initializers(g, [t.name for t in g.initializer if t.name not in wanted])
    return wanted - {t.name for t in g.initializer} - {i.name for i in g.input}


def check_defined(graph: Any, requested: set[str], where: str) -> None:
    """FormatError when a subgraph reads a name the main graph no longer
    defines (onnxruntime: "Invalid model with unknown initializers")."""
    defined = {o for n in graph.node for o in n.output}
    defined |= {t.name for t in graph.initializer} | {i.name for i in graph.input}
    missing = sorted(requested - defined)
    if missing:
        raise FormatError(
            f"{where}: a subgraph reads {missing[0]!r}, which nothing in the quantized graph "
            "defines (a value quantized that only a subgraph reads: exclude the node that "
            "makes it with --skip); onnxruntime fails on such a model too"
        )
