"""gguf-py's Q8_0 on int8q's kernels: `accelerate_gguf` and ``python -m int8q.ggml run``.

gguf-py (the ``gguf`` package, also vendored in every llama.cpp checkout as
``gguf-py/``) quantizes through ``gguf.quants.quantize(data, qtype)``, which
looks up the class registered for `qtype` (``gguf.quants.Q8_0``).  From gguf
0.10 on, that class hands the whole tensor to a private classmethod
(``__quantize_array``, name-mangled ``_Quant__quantize_array``; a
``LazyNumpyTensor`` goes through ``__quantize_lazy``, a wrapper gguf-py
builds around ``__quantize_array`` when the class is defined), which cuts it
into groups of 16 rows and calls ``quantize_blocks(blocks)`` on each: float32
``(n_blocks, 32)`` in, ``(n_blocks, 34)`` uint8 out (``dequantize_blocks``
and ``__dequantize_array`` the other way).

Two levels are patched:

- the whole-tensor level, where gguf-py has it: ``__quantize_array`` /
  ``__dequantize_array`` are replaced, and the lazy wrappers rebuilt around
  the replacements with gguf-py's own ``LazyNumpyTensor._wrap_fn`` and
  arguments, so one int8q call quantizes the whole tensor, eager or lazy,
  without gguf-py's per-group reshapes and copies;
- the block level, always: ``quantize_blocks`` / ``dequantize_blocks``, which
  serve whatever still reaches them (a gguf-py without the whole-tensor
  level, tensors the whole-tensor level hands back to gguf-py, direct calls).

Every caller of gguf-py -- eager arrays, lazy tensors, chunked tensors,
``convert_hf_to_gguf.py`` -- thus gets int8q's kernels without knowing it.
int8q's Q8_0 is byte-identical to gguf-py's (int8q.ggml); anything it does
not handle the same way (another dtype or shape, NaN/inf, a float16 scale
that overflows) is passed to gguf-py's own method, so the bytes never change.

Before trusting a gguf-py, `accelerate_gguf` checks that its internals are
the ones described above (the whole-tensor level is used only when its
methods and its lazy wrappers are exactly what gguf-py builds) and, once
patched, that a probe array (ties, a zero block, tiny and random blocks;
float32, float16 and float64; eager and lazy) quantizes and dequantizes to
the same bytes through ``gguf.quants.quantize``/``dequantize`` as before; if
not, it restores gguf-py and raises `GGUFVersionError` instead of patching
blindly.
"""

import importlib.machinery
import inspect
import os
import runpy
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # classmethod is subscriptable only for mypy
    # gguf-py's Q8_0 classmethods: an array in, an array out.
    _Method = classmethod[Any, [npt.NDArray[Any]], npt.NDArray[Any]]

from .q8_0 import Q8_0_BLOCK as _BLOCK
from .q8_0 import Q8_0_BYTES as _BYTES
from .q8_0 import dequantize_q8_0, quantize_q8_0

__all__ = ["accelerate_gguf", "GGUFVersionError", "main"]

_MARK = "__int8q_original__"  # on our patched functions: the method they replace
_ABSENT = object()  # an attribute the class only inherits: restored by deleting ours

# What each level accepts: gguf-py's quantize_rows converts the whole tensor to
# float32 before its blocks, so float16 and float64 tensors give the bytes of
# their float32 conversion, which int8q's kernels make the same way; its blocks
# are float32 already, and a block of another dtype would be computed in that
# dtype by gguf-py's quantize_blocks, which int8q does not do.
_TENSOR_FLOATS = frozenset(map(np.dtype, (np.float32, np.float16, np.float64)))
_BLOCK_FLOATS = frozenset([np.dtype(np.float32)])
_BYTES_DTYPES = frozenset([np.dtype(np.uint8)])


class GGUFVersionError(RuntimeError):
    """The installed gguf-py does not dispatch Q8_0 the way int8q patches.

    Raised by `accelerate_gguf` (and ``python -m int8q.ggml run``), which then
    leaves gguf-py as it was: its own Q8_0 still works, without int8q.

    Examples
    --------
    >>> import int8q.ggml
    >>> issubclass(int8q.ggml.GGUFVersionError, RuntimeError)
    True
    """


def _where(quants: ModuleType) -> str:
    # By path: a vendored gguf-py (llama.cpp's gguf-py/) has no version of its own.
    return f"the gguf-py at {os.path.dirname(getattr(quants, '__file__', None) or '?')}"


def _q8_0_class(quants: ModuleType) -> tuple[Any, Any]:  # (gguf-py's class, type id)
    """gguf.quants.Q8_0 when this gguf-py dispatches Q8_0 through its
    quantize_blocks/dequantize_blocks classmethods; else GGUFVersionError."""
    cls = getattr(quants, "Q8_0", None)
    qtype = getattr(getattr(quants, "GGMLQuantizationType", None), "Q8_0", None)
    traits = getattr(quants, "_type_traits", None)
    ok = (
        isinstance(cls, type)
        and isinstance(traits, dict)
        and traits.get(qtype) is cls
        and callable(getattr(quants, "quantize", None))
        and callable(getattr(quants, "dequantize", None))
        and getattr(cls, "block_size", None) == _BLOCK
        and getattr(cls, "type_size", None) == _BYTES
    )
    if ok:
        for name in ("quantize_blocks", "dequantize_blocks"):
            ok = ok and isinstance(inspect.getattr_static(cls, name, None), classmethod)
    if not ok:
        raise GGUFVersionError(
            f"int8q.ggml.accelerate_gguf: {_where(quants)} does not quantize Q8_0 through "
            "gguf.quants.Q8_0.quantize_blocks/dequantize_blocks as int8q expects; "
            "left unpatched"
        )
    return cls, qtype


def _closure(fn: object) -> dict[str, Any]:
    """The variables a function closes over, by name ({} for anything else)."""
    code, cells = getattr(fn, "__code__", None), getattr(fn, "__closure__", None)
    if code is None or cells is None:
        return {}
    try:
        return {name: cell.cell_contents for name, cell in zip(code.co_freevars, cells)}
    except ValueError:  # a cell not filled yet
        return {}


def _tensor_level(cls: type[Any], verb: str) -> tuple[str, str, Any, Any] | None:
    """gguf-py's whole-tensor `verb` ("quantize"/"dequantize") for `cls`, or None.

    Returns (name of ``__{verb}_array``, name of ``__{verb}_lazy``, the
    LazyNumpyTensor class that built the lazy wrapper, its meta_noop argument)
    only when ``__{verb}_array`` is a classmethod and the class's own
    ``__{verb}_lazy`` is ``LazyNumpyTensor._wrap_fn(cls.__{verb}_array,
    meta_noop=...)``, as gguf-py's ``__Quant.__init_subclass__`` builds it:
    then both can be replaced without changing anything else.
    """
    # Name-mangled by gguf-py's private base class (``_Quant__quantize_array``
    # for ``__Quant``): found by suffix, so a renamed base still matches.
    arrays = [n for n in dir(cls) if n.endswith(f"__{verb}_array") and not n.startswith("__")]
    if len(arrays) != 1:
        return None
    array = arrays[0]
    lazy = array[: -len("_array")] + "_lazy"
    method = inspect.getattr_static(cls, array, None)
    if not isinstance(method, classmethod):
        return None
    built = _closure(cls.__dict__.get(lazy))
    fn, owner = built.get("fn"), built.get("cls")
    if (
        getattr(fn, "__self__", None) is not cls
        or getattr(fn, "__func__", None) is not method.__func__
        or built.get("use_self", _ABSENT) is not None
        or "meta_noop" not in built
        or not callable(getattr(owner, "_wrap_fn", None))
    ):
        return None
    return array, lazy, owner, built["meta_noop"]


# The kernels by their module names, looked up at each call, so that a caller
# wrapping int8q.ggml.accel.quantize_q8_0 (a timer, a test's counter) sees every call.
def _kernel_quantize(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return quantize_q8_0(x)


def _kernel_dequantize(raw: npt.NDArray[Any]) -> npt.NDArray[Any]:
    with np.errstate(invalid="ignore"):  # a NaN/inf scale: NaN/inf values, as gguf-py
        return dequantize_q8_0(raw)


def _accelerated(
    original: "_Method",
    name: str,
    kernel: Callable[[npt.NDArray[Any]], npt.NDArray[Any]],
    dtypes: frozenset[np.dtype[Any]],
    width: int,
    blocks: bool,
) -> "_Method":
    """`original` (a classmethod of gguf-py's Q8_0) on int8q's `kernel` for a
    NumPy array of `dtypes` whose last axis is a non-zero multiple of `width` (exactly
    `width` in 2-D `blocks`); anything else, or anything the kernel refuses
    (ValueError: NaN/inf, a float16 scale overflow), goes to `original`, so
    gguf-py's own bytes, warnings and errors come out."""

    def method(cls: type[Any], x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if (
            type(x) is np.ndarray
            and x.dtype in dtypes
            and x.ndim >= 1
            and x.shape[-1] > 0  # gguf-py cannot reshape an empty last axis: its error
            and x.shape[-1] % width == 0
            and (not blocks or (x.ndim == 2 and x.shape[1] == width))
        ):
            try:
                return kernel(x)
            except ValueError:
                pass
        return original.__get__(None, cls)(x)

    method.__name__ = method.__qualname__ = name
    setattr(method, _MARK, original)
    return classmethod(method)


def _probe() -> npt.NDArray[np.float32]:
    """Blocks that exercise the recipe: random, exact .5 ties, a zero block, tiny scales."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 2 * _BLOCK)).astype(np.float32)
    x[1, :_BLOCK] = np.arange(-15.5, 16.5, 1.0)
    x[1, 0] = 127  # d = 1: x * id lands on .5 ties
    x[2, _BLOCK:] = 0  # d = 0
    x[3, :_BLOCK] *= np.float32(1e-30)  # a scale that is 0 as float16
    return x


def _probe_results(quants: ModuleType, qtype: Any) -> list[tuple[str, tuple[int, ...], bytes]]:
    """gguf-py's bytes (with dtype and shape) for the probe in each dtype the
    tensor level takes, the values it dequantizes them to, and the same in
    float32 through lazy tensors (where gguf-py has them)."""
    lazy = getattr(quants, "LazyNumpyTensor", None)
    x = _probe()
    with np.errstate(all="ignore"):
        out = [np.asarray(quants.quantize(x.astype(t), qtype)) for t in (np.float16, np.float64)]
        raw = quants.quantize(x, qtype)
        out += [np.asarray(raw), np.asarray(quants.dequantize(raw, qtype))]
        if lazy is not None:
            out += [
                lazy.to_eager(quants.quantize(lazy.from_eager(x), qtype)),
                lazy.to_eager(quants.dequantize(lazy.from_eager(np.asarray(raw)), qtype)),
            ]
    return [(a.dtype.str, a.shape, a.tobytes()) for a in map(np.asarray, out)]


_Level = Literal["tensor", "blocks"]


class Acceleration:
    """What `accelerate_gguf` returns: ``restore()`` it, or use it in ``with``.

    Examples
    --------
    >>> import int8q.ggml
    >>> handle = int8q.ggml.accelerate_gguf()
    >>> handle.active, handle.level
    (True, 'tensor')
    >>> handle.restore()
    >>> handle.active, handle.level
    (False, None)
    """

    def __init__(self, cls: type[Any], originals: dict[str, Any], level: _Level | None) -> None:
        self._cls, self._originals, self._level = cls, originals, level

    @property
    def active(self) -> bool:
        """True until this handle restored gguf-py (a nested handle is never active)."""
        return bool(self._originals)

    @property
    def level(self) -> _Level | None:
        """Where this handle patched gguf-py's Q8_0 while active: ``"tensor"``
        (whole tensors, and blocks for the rest) or ``"blocks"`` (a gguf-py
        without the whole-tensor level); None once restored, or when nested.

        Examples
        --------
        >>> import int8q.ggml
        >>> with int8q.ggml.accelerate_gguf() as handle:
        ...     handle.level in ("tensor", "blocks")
        True
        >>> handle.level is None
        True
        """
        return self._level if self._originals else None

    def restore(self) -> None:
        """Put gguf-py's own Q8_0 methods back (once; later calls do nothing).

        Examples
        --------
        >>> import int8q.ggml
        >>> handle = int8q.ggml.accelerate_gguf()
        >>> handle.restore()
        >>> handle.restore()    # a second call does nothing
        """
        for name, value in self._originals.items():
            if value is _ABSENT:
                delattr(self._cls, name)
            else:
                setattr(self._cls, name, value)
        self._originals = {}

    def __enter__(self) -> "Acceleration":
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self.restore()
        return False


# verb, int8q's kernel, the dtypes it takes at the block level and at the
# tensor level, the width the last axis is a multiple of
_VERBS = (
    ("quantize", _kernel_quantize, _BLOCK_FLOATS, _TENSOR_FLOATS, _BLOCK),
    ("dequantize", _kernel_dequantize, _BYTES_DTYPES, _BYTES_DTYPES, _BYTES),
)


def _patch(cls: type[Any]) -> Acceleration:
    """Patch both levels (the tensor level where gguf-py has it); the handle restores."""
    levels = {verb: _tensor_level(cls, verb) for verb, *_ in _VERBS}
    tensor = all(levels.values())
    originals: dict[str, Any] = {}

    def replace(name: str, value: Any) -> None:
        originals.setdefault(name, cls.__dict__.get(name, _ABSENT))
        setattr(cls, name, value)

    for verb, kernel, block_dtypes, tensor_dtypes, width in _VERBS:
        name = f"{verb}_blocks"
        original = inspect.getattr_static(cls, name)
        replace(name, _accelerated(original, name, kernel, block_dtypes, width, True))
        found = levels[verb]
        if tensor and found:
            array, lazy, owner, meta_noop = found
            original = inspect.getattr_static(cls, array)
            replace(array, _accelerated(original, array, kernel, tensor_dtypes, width, False))
            # gguf-py's own wrapper, built around the replacement instead of the original
            replace(lazy, owner._wrap_fn(getattr(cls, array), meta_noop=meta_noop))
    return Acceleration(cls, originals, "tensor" if tensor else "blocks")


def accelerate_gguf(quants: ModuleType | None = None) -> Acceleration:
    """Make gguf-py's Q8_0 quantize/dequantize run on int8q's kernels.

    Parameters
    ----------
    quants : module, optional
        The ``gguf.quants`` module to patch (default: ``import gguf.quants``;
        pass another one for a vendored gguf-py imported under its own path).

    Returns
    -------
    Acceleration
        Call ``.restore()`` or use it as a context manager to put gguf-py's
        own methods back::

            with int8q.ggml.accelerate_gguf():
                raw = gguf.quants.quantize(x, gguf.GGMLQuantizationType.Q8_0)

        Nested calls are harmless: only the outermost one restores.  Its
        ``level`` says where gguf-py was patched: ``"tensor"`` (gguf 0.10 and
        later: one int8q call per tensor) or ``"blocks"`` (one per group of
        rows gguf-py hands to ``Q8_0.quantize_blocks``).

    Raises
    ------
    ImportError
        gguf-py is not installed (``pip install gguf``).
    GGUFVersionError
        This gguf-py's internals are not the ones int8q patches, or the
        patched methods do not give gguf-py's bytes on the probe array
        (gguf-py is then left as it was).

    Examples
    --------
    >>> import gguf, numpy as np, int8q.ggml
    >>> w = np.random.default_rng(0).standard_normal((16, 256)).astype(np.float32)
    >>> Q8_0 = gguf.GGMLQuantizationType.Q8_0
    >>> with int8q.ggml.accelerate_gguf():
    ...     fast = gguf.quants.quantize(w, Q8_0)
    >>> bool((fast == gguf.quants.quantize(w, Q8_0)).all())
    True
    """
    if quants is None:
        try:
            import gguf.quants as gguf_quants
        except ImportError:
            raise ImportError(
                "int8q.ggml.accelerate_gguf needs gguf-py: pip install gguf"
            ) from None
        quants = gguf_quants
    cls, qtype = _q8_0_class(quants)
    current = inspect.getattr_static(cls, "quantize_blocks").__func__
    if hasattr(current, _MARK):  # already accelerated by an outer call
        return Acceleration(cls, {}, None)

    want = _probe_results(quants, qtype)
    handle = _patch(cls)
    try:
        same = _probe_results(quants, qtype) == want
    except Exception:
        handle.restore()
        raise
    if not same:
        handle.restore()
        raise GGUFVersionError(
            f"int8q.ggml.accelerate_gguf: {_where(quants)} gives other "
            "Q8_0 bytes than int8q once patched; left unpatched"
        )
    return handle


class _AccelerateOnImport:
    """A sys.meta_path finder that patches ``gguf.quants`` as soon as it is imported.

    ``convert_hf_to_gguf.py`` puts its own ``gguf-py`` first on sys.path and
    then imports gguf, so the module to patch exists only once the script
    runs; importing gguf beforehand would pick the wrong copy.
    """

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "gguf.quants":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_accelerate(module: ModuleType) -> None:
            exec_module(module)
            accelerate_gguf(module)

        # Patching this loader instance is the point (see the class doc).
        spec.loader.exec_module = exec_and_accelerate  # type: ignore[method-assign]
        return spec


USAGE = "usage: python -m int8q.ggml run SCRIPT.py [ARGS...]"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m int8q.ggml run SCRIPT.py ARGS...``: run a script with gguf-py accelerated.

    The script runs as ``python SCRIPT.py ARGS...`` would run it (as
    ``__main__``, its folder first on sys.path, its exit status kept); the
    ``gguf.quants`` it imports, whichever copy, is patched on import.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if len(argv) < 2 or argv[0] != "run":
        print(f"int8q.ggml: error: {USAGE}", file=sys.stderr)
        return 2
    script = argv[1]
    if not os.path.isfile(script):
        print(f"int8q.ggml: error: no such script: {script}", file=sys.stderr)
        return 2
    sys.argv = [script, *argv[2:]]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    finder = _AccelerateOnImport()
    sys.meta_path.insert(0, finder)
    try:
        if "gguf.quants" in sys.modules:
            accelerate_gguf(sys.modules["gguf.quants"])
        runpy.run_path(script, run_name="__main__")
    except GGUFVersionError as exc:
        print(f"int8q.ggml: error: {exc}", file=sys.stderr)
        return 2
    finally:
        sys.meta_path.remove(finder)
    return 0
