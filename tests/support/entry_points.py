"""Every public way into int8q's quantizer, as one adapter each (the registry
tests/core/test_entry_points.py runs its tables through).

An adapter takes ``x`` (a NumPy array, masked or object arrays included) and
``opts``, the keyword options of `int8q.quantize` (axis, block_size, scale,
zero_point, qdtype, symmetric, rounding) plus the boolean flags an entry point
has of its own (io's ``force``...).  It calls its entry point the way a user
would and returns what came back as NumPy arrays, ``{"q": ..., "scale": ...}``
(and ``"zero_point"``, ``"dequantized"`` where that is what the entry point
gives), or raises what the entry point raised.

Each adapter says what it can express: `options`, the option names it
takes, and `accepts(x, opts)`, whatever else narrows it (dtypes, shapes).
A case it cannot express is never generated for it (not skipped).  Its
`oracle(x, opts)` gives the arrays it must return when ``int8q.quantize(x,
**opts)`` succeeds (by default quantize's own q, scale and zero point);
when quantize raises, the adapter must raise the same type.

A new entry point joins by registering here with `@entry_point(...)`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import int8q

QUANTIZE_OPTIONS = frozenset(
    {"axis", "block_size", "scale", "zero_point", "qdtype", "symmetric", "rounding"}
)
Result = dict[str, np.ndarray]


class CliRefusal(Exception):
    """The command exited with status 2 and printed one line: the CLI's only
    kind of refusal, so it stands for whatever type int8q.quantize raised."""


def quantize_result(qt: Any) -> Result:
    out = {"q": np.asarray(qt.q), "scale": np.asarray(qt.scale)}
    if qt.zero_point is not None:
        out["zero_point"] = np.asarray(qt.zero_point)
    return out


def via_quantize(x: np.ndarray, opts: dict[str, Any]) -> Result:
    return quantize_result(int8q.quantize(x, **opts))


@dataclass(frozen=True)
class EntryPoint:
    name: str
    run: Callable[[np.ndarray, dict[str, Any]], Result]
    options: frozenset[str]
    accepts: Callable[[np.ndarray, dict[str, Any]], bool] = lambda x, opts: True
    oracle: Callable[[np.ndarray, dict[str, Any]], Result] = via_quantize
    # Boolean flags of its own (beyond `symmetric`), for the string-boolean test.
    flags: tuple[str, ...] = ()
    # Spawns a process per call: left out of the generated (hypothesis) cases.
    slow: bool = False

    def supports(self, x: np.ndarray, opts: dict[str, Any]) -> bool:
        return set(opts) <= self.options and self.accepts(x, opts)


ENTRY_POINTS: dict[str, EntryPoint] = {}


def entry_point(name: str, *, options=QUANTIZE_OPTIONS, **kwargs: Any):
    """Register the decorated ``run(x, opts)`` as the entry point `name`."""

    def register(run: Callable[[np.ndarray, dict[str, Any]], Result]):
        if name in ENTRY_POINTS:
            raise ValueError(f"entry point {name!r} registered twice")
        ENTRY_POINTS[name] = EntryPoint(name, run, frozenset(options), **kwargs)
        return run

    return register


def has(module: str) -> bool:
    """Whether the top-level package `module` is installed."""
    return importlib.util.find_spec(module) is not None


# -- what the cases look like ------------------------------------------------
def plain(x: np.ndarray) -> bool:
    """A plain ndarray (not masked) of a dtype that can be stored or sent."""
    return type(x) is np.ndarray


def real(x: np.ndarray) -> bool:
    return plain(x) and x.dtype.kind in "fiub"


def geometry(x: np.ndarray, opts: dict[str, Any]) -> tuple[Any, Any]:
    return opts.get("axis"), opts.get("block_size")


def scale_shape(x: np.ndarray, opts: dict[str, Any]) -> tuple[int, ...] | None:
    """The shape int8q.quantize gives the scale, None where the options are
    not plain integers (those cases only check the refusal)."""
    axis, block = geometry(x, opts)
    if axis is not None and block is None and type(axis) is int and -x.ndim <= axis < x.ndim:
        return (x.shape[axis],)
    if block is not None and axis is None and type(block) is int and block >= 1 and x.ndim:
        return x.shape[:-1] + (-(-x.shape[-1] // block),)
    if type(block) is int and block >= 1 and type(axis) is int and -x.ndim <= axis < x.ndim:
        # blocks along `axis`: x's shape with that axis ceil-divided (ONNX)
        shape = list(x.shape)
        shape[axis] = -(-shape[axis] // block)
        return tuple(shape)
    if axis is None and block is None:
        return ()
    return None


# -- the in-memory API -------------------------------------------------------
@entry_point("quantize")
def run_quantize(x, opts):
    return via_quantize(x, opts)


def _out_dtype(opts):
    qdtype = opts.get("qdtype")
    if qdtype is None:
        zp = opts.get("zero_point")
        if isinstance(zp, (np.ndarray, np.generic)) and zp.dtype in (np.int8, np.uint8):
            return zp.dtype
        return np.dtype(np.int8)
    return np.dtype(qdtype)


def _out_accepts(x, opts):
    try:
        return _out_dtype(opts) in (np.int8, np.uint8)
    except TypeError:
        return False


@entry_point("quantize(out=)", accepts=_out_accepts)
def run_quantize_out(x, opts):
    out = np.full(np.shape(x), 77, _out_dtype(opts))
    try:
        qt = int8q.quantize(x, out=out, **opts)
    except Exception:
        assert (out == 77).all(), "out= was written before the error"
        raise
    assert qt.q is out
    return quantize_result(qt)


def _with_dequantized(x, opts):
    qt = int8q.quantize(x, **opts)
    return {**quantize_result(qt), "dequantized": qt.dequantize()}


@entry_point(
    "quantize_dequantize", options={"axis", "block_size", "rounding"}, oracle=_with_dequantized
)
def run_quantize_dequantize(x, opts):
    qt, xhat = int8q.quantize_dequantize(x, **opts)
    return {**quantize_result(qt), "dequantized": xhat}


@entry_point("absmax", options={"axis", "block_size", "rounding"})
def run_absmax(x, opts):
    # scale = absmax / 127 in the working dtype, 1 where that is 0
    # (docs/semantics.md); q from those scales given back to quantize.
    axis, block = geometry(x, opts)
    amax = int8q.absmax(x, axis=axis, block_size=block)
    scale = amax / amax.dtype.type(127)
    scale = np.where(scale == 0, amax.dtype.type(1), scale).astype(amax.dtype)
    qt = int8q.quantize(x, scale=scale, **opts)
    return {"q": qt.q, "scale": scale}


def _calibrator(opts):
    kwargs = {k: opts[k] for k in ("axis", "block_size", "symmetric", "qdtype") if k in opts}
    return int8q.Calibrator("minmax", **kwargs)


# (block_size alone or with axis: blocks along that axis, one batch shape)
CALIBRATOR_OPTIONS = {"axis", "block_size", "symmetric", "qdtype", "rounding"}


@entry_point("Calibrator", options=CALIBRATOR_OPTIONS)
def run_calibrator(x, opts):
    cal = _calibrator(opts).update(x)
    return quantize_result(cal.quantize(x, rounding=opts.get("rounding", "half_even")))


# -- int8q.dask --------------------------------------------------------------
def _dask_accepts(x, opts):
    if "scale" in opts:
        # int8q.dask takes scales of exactly the scale shape (documented),
        # where quantize broadcasts them.
        return np.shape(opts["scale"]) == scale_shape(x, opts)
    return True


def _dask_array(x, chunks):
    import dask.array as da

    if chunks == "irregular":
        chunks = tuple((1, n - 1) if n > 1 else (n,) for n in x.shape)
    return da.from_array(x, chunks=chunks, asarray=False)


def _register_dask(label, chunks):
    @entry_point(
        f"dask.quantize[{label}]",
        options={"axis", "block_size", "scale", "rounding"},
        accepts=_dask_accepts,
    )
    def run(x, opts):
        import int8q.dask

        return quantize_result(int8q.dask.quantize(_dask_array(x, chunks), **opts).compute())

    def run_calibrator_dask(x, opts):
        cal = _calibrator(opts).update(_dask_array(x, chunks))
        return quantize_result(cal.quantize(x, rounding=opts.get("rounding", "half_even")))

    entry_point(f"Calibrator.update(dask)[{label}]", options=CALIBRATOR_OPTIONS)(
        run_calibrator_dask
    )


if has("dask"):
    for _label, _chunks in (("one chunk", -1), ("chunks=2", 2), ("irregular", "irregular")):
        _register_dask(_label, _chunks)


# -- int8q.codec and int8q.zarr ----------------------------------------------
def _codec_accepts(x, opts):
    # The chunk header names float16/32/64 only: other real dtypes are a
    # documented TypeError of the codec; what quantize refuses stays in.
    return not (plain(x) and x.dtype.kind in "iub")


def _dequantized_per_tensor(x, opts):
    qt = int8q.quantize(x, **opts)
    return {**quantize_result(qt), "dequantized": qt.dequantize(dtype=x.dtype).reshape(-1)}


if has("numcodecs"):

    @entry_point(
        "codec.Int8QCodec",
        options={"rounding"},
        accepts=_codec_accepts,
        oracle=_dequantized_per_tensor,
    )
    def run_codec(x, opts):
        from int8q.codec import Int8QCodec, decode_chunk

        codec = Int8QCodec(**opts)
        encoded = codec.encode(x)
        q, scale, _ = decode_chunk(encoded)
        # The codec stores x's memory order (numcodecs' rule): read back in it.
        order = "F" if np.asarray(x).flags.f_contiguous else "C"
        return {
            "q": q.reshape(np.shape(x), order=order),
            "scale": np.asarray(scale),
            "dequantized": codec.decode(encoded).reshape(np.shape(x), order=order).reshape(-1),
        }


def _zarr_accepts(x, opts):
    return _codec_accepts(x, opts) and np.ndim(x) >= 1


def _zarr_oracle(per_row):
    def oracle(x, opts):
        if per_row:  # one chunk per index of axis 0: each chunk's scale is its row's
            qt = int8q.quantize(x, rounding=opts.get("rounding", "half_even"), axis=0)
        else:
            qt = int8q.quantize(x, **opts)
        # (zarr reads back in native byte order)
        return {"dequantized": qt.dequantize(dtype=x.dtype.newbyteorder("="))}

    return oracle


def _register_zarr(label, per_row):
    @entry_point(
        f"zarr.create_array[{label}]",
        options={"rounding"},
        accepts=_zarr_accepts,
        oracle=_zarr_oracle(per_row),
    )
    def run(x, opts):
        import zarr

        import int8q.zarr

        chunks = (1,) + np.shape(x)[1:] if per_row else np.shape(x)
        z = int8q.zarr.create_array(
            zarr.storage.MemoryStore(),
            data=x,
            chunks=chunks,
            rounding=opts.get("rounding", "half_even"),
        )
        return {"dequantized": zarr.open_array(z.store)[...]}


if has("zarr") and has("numcodecs") and sys.version_info >= (3, 11):
    _register_zarr("one chunk", per_row=False)
    _register_zarr("a chunk per row", per_row=True)


# -- int8q.io and the command line on .npy files -----------------------------
def _file_accepts(x, opts):
    # A checkpoint holds real arrays (its reader refuses anything else with
    # FormatError, a rule of the file formats); per tensor, per row (axis=0
    # of a 2-D+ tensor, the files' convention) or per block.
    if not real(x) or x.dtype.kind == "b":
        return False
    axis, block = geometry(x, opts)
    if block is not None:
        # a file-wide option: 0-d tensors stay per tensor (documented)
        return axis is None and x.ndim >= 1
    return axis is None or (type(axis) is int and axis == 0 and x.ndim >= 2)


def _file_oracle(x, opts):
    # The files' convention: float64 and integer tensors are quantized from
    # their float32 values and the scale is stored as float32, per row (rows, 1).
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    qt = int8q.quantize(x32, **opts)
    return {"q": qt.q, "scale": qt.scale.astype(np.float32)}


def _file_options(x, opts):
    axis, block = geometry(x, opts)
    return {
        "per_tensor": axis is None and block is None,
        "block_size": block,
        "rounding": opts.get("rounding", "half_even"),
    }


def _read_npz(path, x, opts):
    with np.load(path) as z:
        q, scale = z["q"], z["scale"]
    if opts.get("axis") is not None:
        scale = scale.reshape(-1)  # stored (rows, 1)
    return {"q": q, "scale": scale}


@entry_point(
    "io.quantize_file(.npy)",
    options={"axis", "block_size", "rounding", "per_tensor", "all_tensors", "progress", "force"},
    accepts=_file_accepts,
    oracle=_file_oracle,
    flags=("per_tensor", "all_tensors", "progress", "force"),
)
def run_io(x, opts):
    import int8q.io

    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "w.npy"), os.path.join(d, "w.npz")
        np.save(src, x)
        kwargs = {"all_tensors": True, **_file_options(x, opts)}
        flags = {
            k: opts[k] for k in ("per_tensor", "all_tensors", "progress", "force") if k in opts
        }
        if "force" in flags:  # an existing output, so that `force` decides
            int8q.io.quantize_file(src, dst, **kwargs)
        int8q.io.quantize_file(src, dst, **{**kwargs, **flags})
        if "force" in flags:
            raise AssertionError(f"force={flags['force']!r} replaced an existing output")
        return _read_npz(dst, x, opts)


def run_cli(args: list[str], cwd: str) -> str:
    """Run `python -m int8q ARGS`; its stdout, or CliRefusal(the error line)."""
    done = subprocess.run(
        [sys.executable, "-m", "int8q", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    if done.returncode == 0:
        return done.stdout
    lines = done.stderr.splitlines()
    assert done.returncode == 2, f"exit status {done.returncode}: {done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1 and lines[0].startswith("int8q: error: "), done.stderr
    raise CliRefusal(lines[0].removeprefix("int8q: error: "))


def _cli_file_accepts(x, opts):
    block = opts.get("block_size")
    # (a block size the command line can spell: an int, not a bool)
    return _file_accepts(x, opts) and (block is None or type(block) in (int, float))


@entry_point(
    "cli quantize FILE.npy",
    options={"axis", "block_size", "rounding"},
    accepts=_cli_file_accepts,
    oracle=_file_oracle,
    slow=True,
)
def run_cli_file(x, opts):
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "w.npy"), x)
        fo = _file_options(x, opts)
        args = ["quantize", "w.npy", "-o", "w.npz", "-q", "--all", "--rounding", fo["rounding"]]
        if fo["per_tensor"]:
            args.append("--per-tensor")
        if fo["block_size"] is not None:
            args += ["--block-size", str(fo["block_size"])]
        run_cli(args, d)
        return _read_npz(os.path.join(d, "w.npz"), x, opts)


# -- the dict form: int8q.int8_quantize and `int8q quantize NUMBER...` --------
def _numbers_accepts(x, opts):
    return plain(x) and x.ndim == 1 and x.size >= 1 and x.dtype.kind in "fiu" and not opts


def _numbers_oracle(x, opts):
    # float64 arithmetic, the scale rounded to 6 digits (docs/semantics.md §1)
    qt = int8q.quantize(x.astype(np.float64))
    return {"q": qt.q, "scale": np.float64(round(float(qt.scale), 6))}


def _dict_form(d):
    return {"q": np.array(d["quantized"], np.int8), "scale": np.float64(d["scale"])}


@entry_point(
    "int8_quantize",
    options=(),
    accepts=lambda x, opts: x.ndim == 1 and x.size >= 1 and x.dtype != object and not opts,
    oracle=_numbers_oracle,
)
def run_int8_quantize(x, opts):
    return _dict_form(int8q.int8_quantize(x if type(x) is not np.ndarray else x.tolist()))


@entry_point(
    "cli quantize NUMBER...",
    options=(),
    accepts=_numbers_accepts,
    oracle=_numbers_oracle,
    slow=True,
)
def run_cli_numbers(x, opts):
    numbers = [repr(float(v)) if x.dtype.kind == "f" else str(int(v)) for v in x]
    with tempfile.TemporaryDirectory() as d:
        return _dict_form(json.loads(run_cli(["quantize", *numbers], d)))


# -- int8q.ggml: Q8_0, whose reference is gguf-py ------------------------------
def _q8_0_accepts(x, opts):
    # Q8_0 is blocks of 32 along the last axis, half away from zero, from
    # float32 values: only cases meaning that (float32/float16 in, so the
    # float32 conversion changes nothing) or that quantize refuses.
    if set(opts) - {"block_size", "rounding"} or type(opts.get("block_size")) is not int:
        return False
    if opts["block_size"] != 32 or opts.get("rounding", "half_away") != "half_away":
        return False
    if np.ndim(x) == 0 or np.shape(x)[-1] % 32:
        return False  # (a documented ValueError of the format)
    if not plain(x) or x.dtype.kind not in "fiub":
        return True  # what quantize refuses
    if x.dtype not in (np.float32, np.float16):
        return False
    # A block scale absmax / 127 must fit float16 (a documented ValueError).
    finite = x[np.isfinite(x)]
    return not finite.size or float(np.abs(finite).max()) < 65504 * 127


def _q8_0_oracle(x, opts):
    from gguf import GGMLQuantizationType
    from gguf.quants import quantize

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"q8_0": quantize(np.asarray(x, np.float32), GGMLQuantizationType.Q8_0)}


if has("gguf"):

    @entry_point(
        "ggml.quantize_q8_0",
        options={"block_size", "rounding"},
        accepts=_q8_0_accepts,
        oracle=_q8_0_oracle,
    )
    def run_q8_0(x, opts):
        from int8q import ggml

        return {"q8_0": ggml.quantize_q8_0(x)}
