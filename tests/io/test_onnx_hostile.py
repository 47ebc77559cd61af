"""Hostile ONNX files: a FormatError (a ValueError) naming the file and the
tensor, before anything is allocated for it or read outside the model's
folder; the command line says it in one line and exits 2.  Skips without
onnx (a test extra; CI installs it)."""

import os

import numpy as np
import pytest
from checkpoints import listing
from cli import check_cli

import int8q.io
from int8q.io import FormatError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def model_with(tmp_path, weight, name="m.onnx"):
    """x @ weight, the weight TensorProto as given."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node("MatMul", ["x", weight.name], ["y"], "mm")
    graph = helper.make_graph([node], "g", [x], [y], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def external(name="w", dims=(4, 4), **entries):
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in entries.items():
        e = t.external_data.add()
        e.key, e.value = key, str(value)
    return t


def refused(tmp_path, capsys, path, match, tensor=None):
    before = listing(tmp_path)
    with pytest.raises(FormatError, match=match) as info:
        int8q.io.quantize_file(path, tmp_path / "q.onnx")
    assert os.fspath(path) in str(info.value)
    if tensor is not None:
        assert repr(tensor) in str(info.value)
    assert listing(tmp_path) == before
    check_cli(tmp_path, capsys, "quantize", path, "-o", tmp_path / "q.onnx")


@pytest.mark.parametrize("data", [b"", b"\x08", b"garbage \xff\xfe", b"\x12\x05hello" * 3])
def test_not_a_model(tmp_path, capsys, data):
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    refused(tmp_path, capsys, path, "not an ONNX model")
    with pytest.raises(FormatError):
        int8q.io.inspect_file(path)


def test_truncated_model(tmp_path, capsys):
    path = model_with(tmp_path, numpy_helper.from_array(np.ones((4, 4), np.float32), "w"))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    refused(tmp_path, capsys, path, "ONNX model")


@pytest.mark.parametrize(
    "location, match",
    [
        ("../outside.bin", "leaves the model's folder"),
        ("sub/../../outside.bin", "leaves the model's folder"),
        ("/etc/passwd", "not a relative path"),
        ("C:\\\\w.bin", "not a relative path"),
        ("", "not a relative path"),
    ],
)
def test_external_data_outside_the_folder(tmp_path, capsys, location, match):
    (tmp_path / "outside.bin").write_bytes(np.ones(16, np.float32).tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    path = model_with(folder, external(location=location, offset=0, length=64))
    refused(tmp_path, capsys, path, match, "w")


def test_external_data_through_a_link_leaving_the_folder(tmp_path, capsys):
    (tmp_path / "outside.bin").write_bytes(np.ones(16, np.float32).tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    try:
        os.symlink(tmp_path / "outside.bin", folder / "w.bin")
    except OSError:
        pytest.skip("cannot make symbolic links here")
    path = model_with(folder, external(location="w.bin", offset=0, length=64))
    refused(tmp_path, capsys, path, "leaves the model's folder", "w")


@pytest.mark.parametrize(
    "entries, dims, match",
    [
        ({"offset": 32, "length": 64}, (4, 4), "past the end"),
        ({"offset": 0, "length": 60}, (4, 4), "length 60, expected 64"),
        ({"offset": -4, "length": 64}, (4, 4), "negative"),
        ({"offset": "x", "length": 64}, (4, 4), "not a number"),
        ({"offset": 0}, (2**20, 2**20), "past the end"),
        ({"offset": 0}, (2**62, 2**62), "too large"),
    ],
)
def test_wrong_external_offsets_and_huge_dims(tmp_path, capsys, entries, dims, match):
    (tmp_path / "w.bin").write_bytes(np.ones(16, np.float32).tobytes())
    path = model_with(tmp_path, external(location="w.bin", dims=dims, **entries))
    refused(tmp_path, capsys, path, match, "w")


def test_missing_external_file(tmp_path, capsys):
    path = model_with(tmp_path, external(location="gone.bin", offset=0, length=64))
    refused(tmp_path, capsys, path, "missing", "w")


@pytest.mark.parametrize("dims", [(2**31, 2**31), (4, 5), (3,)])
def test_inline_data_that_does_not_fit_its_dims(tmp_path, capsys, dims):
    t = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    del t.dims[:]
    t.dims.extend(dims)
    path = model_with(tmp_path, t)
    refused(tmp_path, capsys, path, "expected|too large", "w")


def test_honest_external_data_is_read(tmp_path):
    (tmp_path / "w.bin").write_bytes(np.ones(16, np.float32).tobytes())
    path = model_with(tmp_path, external(location="w.bin", offset=0, length=64))
    int8q.io.quantize_file(path, tmp_path / "q.onnx")
    assert int8q.io.compare_files(path, tmp_path / "q.onnx")


def _graph(tmp_path, nodes, init, x_shape=(1, 2, 5, 5)):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return path


W4 = numpy_helper.from_array(np.ones((3, 2, 3, 3), np.float32), "w")
B = numpy_helper.from_array(np.ones(3, np.float32), "b")


@pytest.mark.parametrize(
    "node, init, match",
    [
        (helper.make_node("Gemm", ["x"], ["y"], "g"), [], "too few inputs"),
        (helper.make_node("Conv", ["x"], ["y"], "c"), [], "too few inputs"),
        (helper.make_node("Conv", ["x", "w", ""], ["y"], "c"), [W4], "empty bias"),
        (
            helper.make_node("Conv", ["x", "w", "b"], ["y"], "c"),
            [numpy_helper.from_array(np.ones(3, np.float32), "w"), B],
            "fewer than 2 dims",
        ),
        (
            helper.make_node("Conv", ["x", "w", "b"], ["y"], "c"),
            [numpy_helper.from_array(np.ones((3, 2, 3, 3), np.float16), "w"), B],
            "float16",
        ),
    ],
)
def test_conv_and_gemm_that_quantize_dynamic_fails_on(tmp_path, capsys, node, init, match):
    refused(tmp_path, capsys, _graph(tmp_path, [node], init), match)


def test_gemm_whose_weight_lies_past_its_file(tmp_path, capsys):
    # B is read (and transposed) only when it is quantized: still checked first
    (tmp_path / "w.bin").write_bytes(np.ones(4, np.float32).tobytes())
    node = helper.make_node("Gemm", ["x", "w"], ["y"], "g", transB=1)
    w = external(location="w.bin", offset=0, length=64)
    refused(tmp_path, capsys, _graph(tmp_path, [node], [w], (2, 4)), "past the end", "w")


@pytest.mark.parametrize(
    "companion, value, match",
    [
        ("w_scale", np.float32(np.nan), "NaN"),
        ("w_zero_point", np.uint8(200), "zero_point must lie in"),  # beyond int8 codes
    ],
)
def test_compare_with_a_broken_scale_or_zero_point(tmp_path, capsys, companion, value, match):
    # compare dequantizes the quantized file's weights with int8q.dequantize,
    # which refuses a NaN scale and a zero point beyond the codes' range
    w = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(4, 4), "w")
    path = model_with(tmp_path, w)
    int8q.io.quantize_file(path, tmp_path / "q.onnx")
    model = onnx.load(tmp_path / "q.onnx")
    for t in model.graph.initializer:
        if t.name == companion:
            t.CopyFrom(numpy_helper.from_array(np.asarray(value).reshape(t.dims), companion))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(model.SerializeToString())
    with pytest.raises(FormatError, match=match) as info:
        int8q.io.compare_files(path, broken)
    assert os.fspath(broken) in str(info.value) and "'w'" in str(info.value)
    check_cli(tmp_path, capsys, "compare", path, broken)
