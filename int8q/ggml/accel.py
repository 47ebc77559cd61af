"""gguf-py's Q8_0 on int8q's kernels: `accelerate_gguf` and ``python -m int8q.ggml run``.

gguf-py (the ``gguf`` package, also vendored in every llama.cpp checkout as
``gguf-py/``) quantizes through ``gguf.quants.quantize(data, qtype)``, which
looks up the class registered for `qtype` (``gguf.quants.Q8_0``) and, for a
NumPy array or a ``LazyNumpyTensor`` alike, ends in that class's
``quantize_blocks(blocks)``: a float32 array of shape ``(n_blocks, 32)`` in,
``(n_blocks, 34)`` uint8 out (``dequantize_blocks`` the other way).  That is
the level patched here, so every caller of gguf-py -- eager arrays, lazy
tensors, chunked tensors, ``convert_hf_to_gguf.py`` -- gets int8q's kernels
without knowing it.  int8q's Q8_0 is byte-identical to gguf-py's
(int8q.ggml); anything it does not handle the same way (another dtype or
shape, NaN/inf, a float16 scale that overflows) is passed to gguf-py's own
method, so the bytes never change.

Before trusting a gguf-py, `accelerate_gguf` checks that its internals are
the ones described above and, once patched, that a probe array (ties, a
zero block, tiny and random blocks) quantizes and dequantizes to the same
bytes through ``gguf.quants.quantize``/``dequantize`` as before; if not, it
restores gguf-py and raises `GGUFVersionError` instead of patching blindly.
"""

import importlib.machinery
import inspect
import os
import runpy
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # classmethod is subscriptable only for mypy
    # Q8_0.quantize_blocks / dequantize_blocks: blocks in, blocks out.
    _BlocksMethod = classmethod[Any, [npt.NDArray[Any]], npt.NDArray[Any]]

from .q8_0 import Q8_0_BLOCK as _BLOCK
from .q8_0 import Q8_0_BYTES as _BYTES
from .q8_0 import dequantize_q8_0, quantize_q8_0

__all__ = ["accelerate_gguf", "GGUFVersionError", "main"]

_MARK = "__int8q_original__"  # on our patched functions: the method they replace


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


def _fast_quantize_blocks(original: "_BlocksMethod") -> "_BlocksMethod":
    def quantize_blocks(cls: type[Any], blocks: npt.NDArray[Any]) -> npt.NDArray[Any]:
        # gguf-py hands over float32 (n_blocks, 32); anything else keeps its own path.
        if (
            type(blocks) is np.ndarray
            and blocks.dtype == np.float32
            and blocks.ndim == 2
            and blocks.shape[1] == _BLOCK
        ):
            try:
                return quantize_q8_0(blocks)
            except ValueError:
                pass  # NaN/inf or a float16 scale overflow: gguf-py's bytes, warnings and all
        return original.__get__(None, cls)(blocks)

    setattr(quantize_blocks, _MARK, original)
    return classmethod(quantize_blocks)


def _fast_dequantize_blocks(original: "_BlocksMethod") -> "_BlocksMethod":
    def dequantize_blocks(cls: type[Any], blocks: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if (
            type(blocks) is np.ndarray
            and blocks.dtype == np.uint8
            and blocks.ndim == 2
            and blocks.shape[1] == _BYTES
        ):
            with np.errstate(invalid="ignore"):  # a NaN/inf scale: NaN/inf values, as gguf-py
                return dequantize_q8_0(blocks)
        return original.__get__(None, cls)(blocks)

    setattr(dequantize_blocks, _MARK, original)
    return classmethod(dequantize_blocks)


def _probe() -> npt.NDArray[np.float32]:
    """Blocks that exercise the recipe: random, exact .5 ties, a zero block, tiny scales."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 2 * _BLOCK)).astype(np.float32)
    x[1, :_BLOCK] = np.arange(-15.5, 16.5, 1.0)
    x[1, 0] = 127  # d = 1: x * id lands on .5 ties
    x[2, _BLOCK:] = 0  # d = 0
    x[3, :_BLOCK] *= np.float32(1e-30)  # a scale that is 0 as float16
    return x


class Acceleration:
    """What `accelerate_gguf` returns: ``restore()`` it, or use it in ``with``.

    Examples
    --------
    >>> import int8q.ggml
    >>> handle = int8q.ggml.accelerate_gguf()
    >>> handle.active
    True
    >>> handle.restore()
    >>> handle.active
    False
    """

    def __init__(self, cls: type[Any], originals: dict[str, "_BlocksMethod"]) -> None:
        self._cls, self._originals = cls, originals

    @property
    def active(self) -> bool:
        """True until this handle restored gguf-py (a nested handle is never active)."""
        return bool(self._originals)

    def restore(self) -> None:
        """Put gguf-py's own Q8_0 methods back (once; later calls do nothing).

        Examples
        --------
        >>> import int8q.ggml
        >>> handle = int8q.ggml.accelerate_gguf()
        >>> handle.restore()
        >>> handle.restore()    # a second call does nothing
        """
        for name, method in self._originals.items():
            setattr(self._cls, name, method)
        self._originals = {}

    def __enter__(self) -> "Acceleration":
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self.restore()
        return False


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

        Nested calls are harmless: only the outermost one restores.

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
        return Acceleration(cls, {})

    probe = _probe()
    with np.errstate(all="ignore"):
        want = quants.quantize(probe, qtype)
        want_back = quants.dequantize(want, qtype)
    originals = {
        name: inspect.getattr_static(cls, name) for name in ("quantize_blocks", "dequantize_blocks")
    }
    handle = Acceleration(cls, originals)
    cls.quantize_blocks = _fast_quantize_blocks(originals["quantize_blocks"])
    cls.dequantize_blocks = _fast_dequantize_blocks(originals["dequantize_blocks"])
    try:
        with np.errstate(all="ignore"):
            got = quants.quantize(probe, qtype)
            got_back = quants.dequantize(got, qtype)
        same = (
            np.asarray(got).tobytes() == np.asarray(want).tobytes()
            and np.asarray(got_back).tobytes() == np.asarray(want_back).tobytes()
        )
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
