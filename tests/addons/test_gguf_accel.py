"""int8q.ggml.accelerate_gguf and ``python -m int8q.ggml run``: gguf-py's own
entry points give the same bytes with and without int8q's kernels.

The byte-identity tests run on three gguf-py copies (the ``gguf_py`` fixture):
the installed package and the copy vendored in llama.cpp (INT8Q_LLAMA_CPP, as
.ci/run sets it; skipped without it), both patched at the whole-tensor level,
and a copy of the installed one without that level (its private
``__quantize_array``/``__dequantize_array`` renamed), patched at the block
level only, as an unknown gguf-py would be.
"""

import importlib
import inspect
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import types
import warnings

import numpy as np
import pytest

from int8q import ggml

gguf = pytest.importorskip("gguf")
gq = pytest.importorskip("gguf.quants")
Q8_0 = gguf.GGMLQuantizationType.Q8_0
ROWS_PER_GROUP = 16  # gguf-py's _apply_over_grouped_rows: one quantize_blocks call per 16 rows


def load_quants(name, folder):
    """The ``quants`` module of the gguf-py package at `folder`, imported as
    ``name.quants`` (only it and what it imports: no second gguf package)."""
    package = types.ModuleType(name)
    package.__path__ = [str(folder)]
    sys.modules[name] = package
    return importlib.import_module(f"{name}.quants")


def unload(name):
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]


@pytest.fixture(scope="module", params=["installed", "llama.cpp", "blocks-only"])
def gguf_py(request, tmp_path_factory):
    """(the gguf.quants module to patch, the level accelerate_gguf must choose)."""
    if request.param == "installed":
        yield gq, "tensor"
        return
    if request.param == "llama.cpp":
        root = os.environ.get("INT8Q_LLAMA_CPP")
        folder = pathlib.Path(root or ".", "gguf-py", "gguf")
        if not root or not (folder / "quants.py").is_file():
            pytest.skip("set INT8Q_LLAMA_CPP to a llama.cpp checkout (see .ci/run)")
        name, level = "int8q_test_gguf_llama_cpp", "tensor"
    else:
        folder = tmp_path_factory.mktemp("gguf-py") / "gguf"
        shutil.copytree(pathlib.Path(gq.__file__).parent, folder)
        source = (folder / "quants.py").read_text()
        for verb in ("quantize", "dequantize"):
            assert source.count(f"__{verb}_array") >= 2  # defined and used
            source = source.replace(f"__{verb}_array", f"__{verb}_whole")
        (folder / "quants.py").write_text(source)
        name, level = "int8q_test_gguf_blocks_only", "blocks"
    try:
        yield load_quants(name, folder), level
    finally:
        unload(name)


def datasets():
    rng = np.random.default_rng(0)
    random = rng.standard_normal((48, 256)).astype(np.float32)
    tied = np.zeros((4, 64), np.float32)
    tied[0, :32] = np.arange(-15.5, 16.5, 1.0)
    tied[0, 0] = 127  # d = 1, id = 1: exact .5 ties
    tied[1, 32:] = 0  # a zero block next to a non-zero one
    tied[2, :32] = -2.5
    tied[2, 5] = 127
    tiny = rng.standard_normal((3, 96)).astype(np.float32)
    tiny[0] *= np.float32(1e-30)  # float16 scale 0
    tiny[1, :32] *= np.float32(1e-37)  # 1 / d overflows float32
    tiny[2] *= np.float32(6e-8 * 127)  # float16 subnormal scales
    return {
        "random": random,
        "tied": tied,
        "tiny": tiny,
        "1-d": random[0],
        "3-d": rng.standard_normal((2, 3, 64)).astype(np.float32),
        "no rows": np.zeros((2, 0, 64), np.float32),
        "float16": (rng.standard_normal((17, 128)) * 10).astype(np.float16),
        "float64": rng.standard_normal((5, 32)) * 1e3,
        "int16": rng.integers(-(2**15), 2**15, (3, 64)).astype(np.int16),
        "strided": random[:, ::2],
        "transposed": random[:32, :64].T,
    }


def quantize(quants, x, lazy):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # gguf-py warns on its own edge cases
        if lazy:
            lazy_type = quants.LazyNumpyTensor
            out = quants.quantize(lazy_type.from_eager(x), quants.GGMLQuantizationType.Q8_0)
            assert isinstance(out, lazy_type)
            return lazy_type.to_eager(out)
        return quants.quantize(x, quants.GGMLQuantizationType.Q8_0)


def dequantize(quants, raw, lazy):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if lazy:
            lazy_type = quants.LazyNumpyTensor
            raw = lazy_type.from_eager(raw)
            return lazy_type.to_eager(quants.dequantize(raw, quants.GGMLQuantizationType.Q8_0))
        return quants.dequantize(raw, quants.GGMLQuantizationType.Q8_0)


@pytest.fixture
def kernel_calls(monkeypatch):
    """How many times the patched gguf-py reached int8q's Q8_0 kernels."""
    calls = {"quantize": 0, "dequantize": 0}
    for name, real in (("quantize", ggml.quantize_q8_0), ("dequantize", ggml.dequantize_q8_0)):

        def counted(x, _real=real, _name=name):
            calls[_name] += 1
            return _real(x)

        monkeypatch.setattr(ggml.accel, f"{name}_q8_0", counted)
    return calls


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
@pytest.mark.parametrize("name", list(datasets()))
def test_same_bytes_as_gguf_py(gguf_py, name, lazy, kernel_calls):
    quants, level = gguf_py
    x = datasets()[name]
    want = quantize(quants, x, lazy)
    want_back = dequantize(quants, want, lazy)
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, want.shape, dtype=np.uint8)  # any bytes, NaN scales too
    want_noise = dequantize(quants, noise, lazy)
    with ggml.accelerate_gguf(quants) as handle:
        assert handle.level == level
        got = quantize(quants, x, lazy)
        got_back = dequantize(quants, got, lazy)
        got_noise = dequantize(quants, noise, lazy)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()
    assert got_back.dtype == np.float32 and got_back.shape == want_back.shape
    assert got_back.tobytes() == want_back.tobytes()
    assert got_noise.tobytes() == want_noise.tobytes()
    assert kernel_calls["quantize"] >= 1 and kernel_calls["dequantize"] >= 2


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_one_kernel_call_per_tensor_at_the_tensor_level(gguf_py, lazy, kernel_calls):
    """The tensor level hands int8q the whole tensor; the block level one
    call per group of rows gguf-py cuts it into."""
    quants, level = gguf_py
    groups = 4
    x = np.random.default_rng(3).standard_normal((groups * ROWS_PER_GROUP, 256))
    x = x.astype(np.float32)
    with ggml.accelerate_gguf(quants):
        kernel_calls.update(quantize=0, dequantize=0)  # not the probe's
        raw = quantize(quants, x, lazy)
        dequantize(quants, raw, lazy)
    calls = 1 if level == "tensor" else groups
    assert kernel_calls == {"quantize": calls, "dequantize": calls}
    assert raw.tobytes() == quantize(quants, x, lazy).tobytes()


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_nonfinite_and_overflowing_blocks_keep_gguf_py_bytes(gguf_py, lazy, kernel_calls):
    """A tensor int8q refuses goes back to gguf-py whole; its groups of rows
    without such a value still reach int8q at the block level."""
    quants, _ = gguf_py
    x = np.ones((3 * ROWS_PER_GROUP, 64), np.float32)
    x[0, 3] = np.nan
    x[ROWS_PER_GROUP, 40] = np.inf
    x[-1, 0] = 65520 * 127  # the float16 scale overflows
    x[-1, 1] = 1  # and a value that rounds against that scale
    x[1] = np.linspace(-3, 3, 64)
    want = quantize(quants, x, lazy)
    with ggml.accelerate_gguf(quants):
        kernel_calls.update(quantize=0)
        got = quantize(quants, x, lazy)
    assert got.tobytes() == want.tobytes()
    assert kernel_calls["quantize"] >= 1


def test_other_block_dtypes_go_to_gguf_py():
    blocks = np.random.default_rng(2).standard_normal((4, 32))  # float64
    want = gq.Q8_0.quantize_blocks(blocks)
    with ggml.accelerate_gguf():
        got = gq.Q8_0.quantize_blocks(blocks)
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("shape", [(3, 0), (0,), (2, 33)])
def test_shapes_gguf_py_refuses_keep_its_errors(gguf_py, shape):
    quants, _ = gguf_py
    x = np.zeros(shape, np.float32)
    with pytest.raises(Exception) as want:
        quantize(quants, x, False)
    with ggml.accelerate_gguf(quants), pytest.raises(type(want.value)) as got:
        quantize(quants, x, False)
    assert str(got.value) == str(want.value)


def test_restores_and_nests(gguf_py):
    quants, level = gguf_py
    before = dict(vars(quants.Q8_0))
    with ggml.accelerate_gguf(quants) as outer:
        patched = dict(vars(quants.Q8_0))
        assert patched["quantize_blocks"] is not before["quantize_blocks"]
        assert outer.active and outer.level == level
        with ggml.accelerate_gguf(quants) as inner:
            assert not inner.active and inner.level is None
        assert dict(vars(quants.Q8_0)) == patched  # the inner exit restores nothing
    assert dict(vars(quants.Q8_0)) == before  # nothing left behind, nothing lost
    assert outer.level is None
    handle = ggml.accelerate_gguf(quants)
    handle.restore()
    handle.restore()
    assert dict(vars(quants.Q8_0)) == before


def test_an_unknown_lazy_wrapper_keeps_the_block_level(monkeypatch):
    """The tensor level is used only when gguf-py's lazy wrapper is the one it
    builds around ``__quantize_array``: patching the array method alone
    would leave lazy tensors on the old one."""
    own = gq.Q8_0._Quant__quantize_lazy

    def lazy(tensor):
        return own(tensor)

    monkeypatch.setattr(gq.Q8_0, "_Quant__quantize_lazy", lazy)
    with ggml.accelerate_gguf() as handle:
        assert handle.level == "blocks"
        assert gq.Q8_0._Quant__quantize_lazy is lazy
        assert "_Quant__quantize_array" not in vars(gq.Q8_0)
    assert gq.Q8_0._Quant__quantize_lazy is lazy


def fake_quants(quantize_blocks):
    """A gguf.quants look-alike whose Q8_0 quantizes with `quantize_blocks`."""
    qtype = gguf.GGMLQuantizationType.Q8_0

    cls = type(
        "Q8_0",
        (),
        {
            "block_size": 32,
            "type_size": 34,
            "quantize_blocks": classmethod(quantize_blocks),
            "dequantize_blocks": classmethod(lambda c, b: gq.Q8_0.dequantize_blocks(b)),
        },
    )
    mod = types.SimpleNamespace(
        Q8_0=cls,
        GGMLQuantizationType=gguf.GGMLQuantizationType,
        _type_traits={qtype: cls},
        quantize=lambda x, t: cls.quantize_blocks(x.reshape(-1, 32)).reshape(*x.shape[:-1], -1),
        dequantize=lambda b, t: cls.dequantize_blocks(b.reshape(-1, 34)).reshape(*b.shape[:-1], -1),
    )
    return mod, cls


def test_refuses_a_gguf_whose_bytes_would_change():
    def half_even(cls, blocks):  # not ggml's recipe: int8q would change the bytes
        d = np.abs(blocks).max(axis=1, keepdims=True) / 127
        with np.errstate(divide="ignore"):
            q = np.rint(blocks * np.where(d == 0, 0, 1 / d))
        return np.concatenate(
            [d.astype(np.float16).view(np.uint8), q.astype(np.int8).view(np.uint8)], axis=1
        )

    mod, cls = fake_quants(half_even)
    before = inspect.getattr_static(cls, "quantize_blocks")
    with pytest.raises(ggml.GGUFVersionError, match="other Q8_0 bytes"):
        ggml.accelerate_gguf(mod)
    assert inspect.getattr_static(cls, "quantize_blocks") is before


@pytest.mark.parametrize("damage", ["no class", "not registered", "not a classmethod"])
def test_refuses_unknown_internals(damage):
    mod, cls = fake_quants(lambda c, b: gq.Q8_0.quantize_blocks(b))
    if damage == "no class":
        del mod.Q8_0
    elif damage == "not registered":
        mod._type_traits = {}
    else:
        cls.quantize_blocks = staticmethod(gq.Q8_0.quantize_blocks)
    with pytest.raises(ggml.GGUFVersionError) as err:
        ggml.accelerate_gguf(mod)
    assert "\n" not in str(err.value) and "left unpatched" in str(err.value)


def test_the_fake_module_is_accepted_when_it_is_ggml_recipe():
    """The fixture itself is sound: with gguf-py's own recipe it is patched."""
    mod, cls = fake_quants(lambda c, b: gq.Q8_0.quantize_blocks(b))
    with ggml.accelerate_gguf(mod):
        assert inspect.getattr_static(cls, "quantize_blocks").__func__.__name__ == "quantize_blocks"
        assert hasattr(
            inspect.getattr_static(cls, "quantize_blocks").__func__, "__int8q_original__"
        )


SCRIPT = """\
import os, sys
from pathlib import Path
sys.path.insert(1, str(Path(__file__).parent / "gguf-py"))   # as convert_hf_to_gguf.py does
import numpy as np
import gguf, gguf.quants
patched = hasattr(gguf.quants.Q8_0.quantize_blocks.__func__, "__int8q_original__")
x = np.random.default_rng(0).standard_normal((8, 64)).astype(np.float32)
Path(sys.argv[1]).write_bytes(gguf.quants.quantize(x, gguf.GGMLQuantizationType.Q8_0).tobytes())
print(os.path.dirname(gguf.__file__), patched, __name__, sys.argv[1:])
sys.exit(int(sys.argv[2]))
"""


def run_module(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "int8q.ggml", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_run_patches_the_scripts_own_gguf_py(tmp_path):
    """The script's vendored gguf-py (first on its sys.path) is the one patched."""
    shutil.copytree(os.path.dirname(gguf.__file__), tmp_path / "gguf-py" / "gguf")
    (tmp_path / "script.py").write_text(SCRIPT)
    plain = subprocess.run(
        [sys.executable, tmp_path / "script.py", tmp_path / "a.bin", "0"],
        capture_output=True,
        text=True,
    )
    assert plain.returncode == 0, plain.stderr
    proc = run_module("run", tmp_path / "script.py", tmp_path / "b.bin", "3", cwd="/")
    assert proc.returncode == 3, proc.stderr  # the script's exit status
    assert proc.stderr == ""
    where, patched, name, argv = proc.stdout.split(" ", 3)
    assert where == str(tmp_path / "gguf-py" / "gguf") and patched == "True"
    assert name == "__main__" and argv.strip() == repr([str(tmp_path / "b.bin"), "3"])
    assert plain.stdout.split(" ")[1] == "False"
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()


@pytest.mark.parametrize("args", [[], ["go", "x.py"], ["run"], ["run", "missing.py"]])
def test_run_usage_errors(tmp_path, args):
    proc = run_module(*args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("int8q.ggml: error: ") and proc.stderr.count("\n") == 1


def test_run_refuses_an_unknown_gguf_py(tmp_path):
    pkg = tmp_path / "gguf-py" / "gguf"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "quants.py").write_text("def quantize(data, qtype): raise NotImplementedError\n")
    (tmp_path / "script.py").write_text(
        textwrap.dedent("""\
        import sys
        from pathlib import Path
        sys.path.insert(1, str(Path(__file__).parent / "gguf-py"))
        import gguf.quants
        print("converted")
        """)
    )
    proc = run_module("run", tmp_path / "script.py", cwd=tmp_path)
    assert proc.returncode == 2 and "converted" not in proc.stdout
    assert proc.stderr.startswith("int8q.ggml: error: ") and proc.stderr.count("\n") == 1
    assert "left unpatched" in proc.stderr
