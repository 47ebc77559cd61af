"""Against llama.cpp itself, through llama-cpp-python (where it is installed).

Building llama-cpp-python compiles llama.cpp (about 10 minutes on 2 cores),
so CI does not install it and these tests skip there; with it installed
(and the converter set up as for test_gguf_convert.py) they check that

- ``int8q quantize`` of all-MiniLM-L6-v2's F16 GGUF and
  ``llama_cpp.llama_model_quantize(..., MOSTLY_Q8_0)`` give every tensor the
  same type, shape and bytes, and the same metadata (keys, types, values,
  order); llama-quantize re-sorts the tensors by block, int8q keeps the
  input's order;
- llama.cpp loads int8q's Q8_0 file, and its sentence embeddings keep a
  cosine of at least 0.999 against the F32 model's.
"""

import ctypes

import numpy as np
import pytest
from test_gguf_convert import convert, converter  # noqa: F401  (a fixture)
from test_gguf_file import fields

from int8q.io import quantize_file

pytestmark = [pytest.mark.llama_cpp]

llama_cpp = pytest.importorskip("llama_cpp")
gguf = pytest.importorskip("gguf")

SENTENCES = [
    "The cat sits on the mat.",
    "Quantization keeps the embeddings close.",
    "GGUF files hold llama.cpp models.",
    "A completely unrelated sentence about tea.",
]


@pytest.fixture(scope="module")
def files(converter, tmp_path_factory):  # noqa: F811
    tmp = tmp_path_factory.mktemp("llama_cpp")
    f16, f32 = (
        convert(converter, tmp / "f16.gguf", "f16"),
        convert(converter, tmp / "f32.gguf", "f32"),
    )
    mine = tmp / "int8q-q8_0.gguf"
    quantize_file(f16, mine)
    return f16, f32, mine, tmp


def test_same_as_llama_model_quantize(files):
    f16, _, mine, tmp = files
    ref = tmp / "llama-q8_0.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.nthread = 2
    assert (
        llama_cpp.llama_model_quantize(str(f16).encode(), str(ref).encode(), ctypes.byref(params))
        == 0
    )
    a, b = gguf.GGUFReader(ref), gguf.GGUFReader(mine)
    theirs = {t.name: t for t in a.tensors}
    assert sorted(theirs) == sorted(t.name for t in b.tensors)
    assert [t.name for t in b.tensors] == [t.name for t in gguf.GGUFReader(f16).tensors]
    for t in b.tensors:
        r = theirs[t.name]
        assert (t.tensor_type, list(t.shape)) == (r.tensor_type, list(r.shape)), t.name
        assert bytes(t.data) == bytes(r.data), t.name
    assert fields(b) == fields(a)


def embeddings(path):
    model = llama_cpp.Llama(model_path=str(path), embedding=True, verbose=False)
    try:
        return np.array(model.embed(SENTENCES), dtype=np.float64)
    finally:
        model.close()


def test_llama_cpp_loads_int8q_q8_0_and_embeddings_stay_close(files):
    _, f32, mine, _ = files
    want, got = embeddings(f32), embeddings(mine)
    assert got.shape == want.shape == (len(SENTENCES), 384)
    cosine = np.sum(got * want, axis=1) / (
        np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1)
    )
    print(f"\nMiniLM Q8_0 (int8q) vs F32 in llama.cpp: cosine min {cosine.min():.6f}")
    assert cosine.min() >= 0.999
