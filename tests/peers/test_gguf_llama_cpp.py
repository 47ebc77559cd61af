"""Against llama.cpp itself, through llama-cpp-python (where it is installed).

Building llama-cpp-python compiles llama.cpp (about 10 minutes on 2 cores);
.ci/run builds it once from the sdist and keeps the wheel in its cache.
With it installed (and the converter set up as for test_gguf_convert.py),
for all-MiniLM-L6-v2 and for the tiny random Llama of tests/tiny_llama.py,
each converted to an F16 GGUF by llama.cpp's convert_hf_to_gguf.py:

- ``int8q quantize`` of the F16 file and llama.cpp's own quantizer
  (``llama_model_quantize(..., MOSTLY_Q8_0)``, what ``llama-quantize``
  runs) give every tensor the same type, shape and bytes, and the same
  metadata (keys, types, values, order); llama-quantize re-sorts the
  tensors by block, int8q keeps the input's order;
- llama.cpp loads int8q's Q8_0 file and computes exactly what it computes
  with its own: the same sentence embeddings for MiniLM, the same logits
  at every prompt token for the Llama; both stay close to the float
  model's.
"""

import ctypes

import numpy as np
import pytest
import tiny_llama
from gguf_converter import convert, converter  # noqa: F401  (a fixture)
from gguf_files import fields

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


def llama_quantize(src, dst):
    """llama.cpp's own Q8_0 file of `src`."""
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.nthread = 2
    assert (
        llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
        == 0
    )
    return dst


def quantized_pair(converter, tmp, model=None):  # noqa: F811
    """(F16, F32, int8q's Q8_0, llama.cpp's Q8_0) files of `model`."""
    f16 = convert(converter, tmp / "f16.gguf", "f16", model=model)
    f32 = convert(converter, tmp / "f32.gguf", "f32", model=model)
    quantize_file(f16, tmp / "int8q-q8_0.gguf")
    return f16, f32, tmp / "int8q-q8_0.gguf", llama_quantize(f16, tmp / "llama-q8_0.gguf")


@pytest.fixture(scope="module")
def minilm_files(converter, tmp_path_factory):  # noqa: F811
    return quantized_pair(converter, tmp_path_factory.mktemp("llama_cpp"))


@pytest.fixture(scope="module")
def llama_files(converter, tiny_llama_folder, tmp_path_factory):  # noqa: F811
    tmp = tmp_path_factory.mktemp("llama_cpp_llama")
    return quantized_pair(converter, tmp, model=tiny_llama_folder)


@pytest.mark.parametrize("model", ["minilm_files", "llama_files"])
def test_same_as_llama_model_quantize(request, model):
    f16, _, mine, ref = request.getfixturevalue(model)
    a, b = gguf.GGUFReader(ref), gguf.GGUFReader(mine)
    theirs = {t.name: t for t in a.tensors}
    assert sorted(theirs) == sorted(t.name for t in b.tensors)
    assert [t.name for t in b.tensors] == [t.name for t in gguf.GGUFReader(f16).tensors]
    for t in b.tensors:
        r = theirs[t.name]
        assert (t.tensor_type, list(t.shape)) == (r.tensor_type, list(r.shape)), t.name
        assert bytes(t.data) == bytes(r.data), t.name
    assert sum(t.tensor_type == gguf.GGMLQuantizationType.Q8_0 for t in b.tensors) >= 28
    assert fields(b) == fields(a)


def embeddings(path):
    model = llama_cpp.Llama(model_path=str(path), embedding=True, verbose=False)
    try:
        return np.array(model.embed(SENTENCES), dtype=np.float64)
    finally:
        model.close()


def cosines(a, b):
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_minilm_embeddings_as_with_llama_cpps_own_q8_0(minilm_files):
    _, f32, mine, ref = minilm_files
    want, got = embeddings(f32), embeddings(mine)
    assert got.shape == want.shape == (len(SENTENCES), 384)
    np.testing.assert_array_equal(got, embeddings(ref))
    cosine = cosines(got, want)
    print(f"\nMiniLM Q8_0 (int8q) vs F32 in llama.cpp: cosine min {cosine.min():.6f}")
    assert cosine.min() >= 0.999


def logits(path, prompts):
    """llama.cpp's logits at every token of every prompt, one row per token."""
    model = llama_cpp.Llama(
        model_path=str(path), logits_all=True, n_ctx=256, n_threads=2, verbose=False
    )
    try:
        rows = []
        for tokens in prompts:
            model.reset()
            model.eval(tokens)
            rows.append(np.array(model.scores[: model.n_tokens], dtype=np.float64))
        return np.concatenate(rows)
    finally:
        model.close()


def test_tiny_llama_logits_as_with_llama_cpps_own_q8_0(llama_files, tiny_llama_folder):
    f16, _, mine, ref = llama_files
    prompts = tiny_llama.prompts(tiny_llama_folder)
    got = logits(mine, prompts)
    assert got.shape == (sum(map(len, prompts)), tiny_llama.VOCAB)
    np.testing.assert_array_equal(got, logits(ref, prompts))
    want = logits(f16, prompts)
    cosine = cosines(got, want)
    print(
        f"\ntiny Llama Q8_0 (int8q) vs F16 in llama.cpp: logit cosine min {cosine.min():.6f}, "
        f"max |difference| {np.abs(got - want).max():.4f}"
    )
    assert not np.array_equal(got, want)  # Q8_0 is not F16
    assert cosine.min() >= 0.999
