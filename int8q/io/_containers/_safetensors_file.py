"""The container for one ``.safetensors`` file (see _registry for the interface)."""

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager

from .._formats import _safetensors as st
from .._policy._convention import Options
from .._policy._suffix import SAFETENSORS, check_suffix, has_suffix
from . import _checkpoint
from ._container import Originals, ProgressFactory, Quantized, Row

NAME = "safetensors"
DESCRIPTION = SAFETENSORS
OUTPUT_IS_DIR = False
OUTPUT_SUFFIX = SAFETENSORS


def claims(path: str) -> bool:
    return not os.path.isdir(path) and has_suffix(path, SAFETENSORS)


def inputs(path: str) -> list[str]:
    return [path]


def _run(plan: _checkpoint.Plan, dst: str, progress: ProgressFactory, desc: str) -> None:
    with progress(plan.input_bytes, desc) as bar:
        _checkpoint.write([(dst, plan)], bar)


def quantize(src: str, dst: str, opts: Options, progress: ProgressFactory) -> None:
    header = st.read_header(src)
    plan = _checkpoint.plan_quantize(src, header, opts, set(header.tensors))
    _run(plan, dst, progress, "quantize")


def dequantize(src: str, dst: str, progress: ProgressFactory) -> None:
    check_suffix(dst, OUTPUT_SUFFIX)
    _run(_checkpoint.plan_dequantize(src, st.read_header(src)), dst, progress, "dequantize")


def inspect(path: str) -> list[Row]:
    return _checkpoint.inspect(path, st.read_header(path))


def originals(path: str) -> AbstractContextManager[Originals]:
    return _checkpoint.originals(path, [(path, st.read_header(path))])


def quantized(path: str) -> Iterator[Quantized]:
    return _checkpoint.quantized([(path, st.read_header(path))])
