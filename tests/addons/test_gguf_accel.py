"""int8q.ggml.accelerate_gguf and ``python -m int8q.ggml run``: gguf-py's own
entry points give the same bytes with and without int8q's kernels."""

import inspect
import os
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
        "3-d": rng.standard_normal((2, 3, 64)).astype(np.float32),
        "float16": (rng.standard_normal((17, 128)) * 10).astype(np.float16),
        "float64": rng.standard_normal((5, 32)),
        "strided": random[:, ::2],
    }


def quantize(x, lazy):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # gguf-py warns on its own edge cases
        if lazy:
            out = gq.quantize(gguf.LazyNumpyTensor.from_eager(x), Q8_0)
            assert isinstance(out, gguf.LazyNumpyTensor)
            return gguf.LazyNumpyTensor.to_eager(out)
        return gq.quantize(x, Q8_0)


def dequantize(raw, lazy):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if lazy:
            return gguf.LazyNumpyTensor.to_eager(
                gq.dequantize(gguf.LazyNumpyTensor.from_eager(raw), Q8_0)
            )
        return gq.dequantize(raw, Q8_0)


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


def original_methods():
    return {n: inspect.getattr_static(gq.Q8_0, n) for n in ("quantize_blocks", "dequantize_blocks")}


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
@pytest.mark.parametrize("name", list(datasets()))
def test_same_bytes_as_gguf_py(name, lazy, kernel_calls):
    x = datasets()[name]
    want = quantize(x, lazy)
    want_back = dequantize(want, lazy)
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, want.shape, dtype=np.uint8)  # any bytes, NaN scales too
    want_noise = dequantize(noise, lazy)
    with ggml.accelerate_gguf():
        got = quantize(x, lazy)
        got_back = dequantize(got, lazy)
        got_noise = dequantize(noise, lazy)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()
    assert got_back.dtype == np.float32 and got_back.tobytes() == want_back.tobytes()
    assert got_noise.tobytes() == want_noise.tobytes()
    assert kernel_calls["quantize"] >= 1 and kernel_calls["dequantize"] >= 2


def test_nonfinite_and_overflowing_blocks_keep_gguf_py_bytes(kernel_calls):
    x = np.ones((3, 64), np.float32)
    x[0, 3] = np.nan
    x[1, 40] = np.inf
    x[2, 0] = 65520 * 127  # the float16 scale overflows
    want = quantize(x, False)
    with ggml.accelerate_gguf():
        got = quantize(x, False)
    assert got.tobytes() == want.tobytes()


def test_other_block_dtypes_go_to_gguf_py():
    blocks = np.random.default_rng(2).standard_normal((4, 32))  # float64
    want = gq.Q8_0.quantize_blocks(blocks)
    with ggml.accelerate_gguf():
        got = gq.Q8_0.quantize_blocks(blocks)
    assert got.tobytes() == want.tobytes()


def test_restores_and_nests():
    before = original_methods()
    with ggml.accelerate_gguf() as outer:
        patched = original_methods()
        assert patched["quantize_blocks"] is not before["quantize_blocks"]
        assert outer.active
        with ggml.accelerate_gguf() as inner:
            assert not inner.active
        assert original_methods() == patched  # the inner exit restores nothing
    assert original_methods() == before
    handle = ggml.accelerate_gguf()
    handle.restore()
    handle.restore()
    assert original_methods() == before


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
