"""The container for one ``.safetensors`` file (see _registry for the interface)."""

import os

from .._formats import _safetensors as st
from .._policy._convention import Options
from .._policy._suffix import check_suffix
from . import _checkpoint
from ._container import ProgressFactory, Row

NAME = "safetensors"
DESCRIPTION = ".safetensors"
OUTPUT_IS_DIR = False
OUTPUT_SUFFIX = ".safetensors"


def claims(path: str) -> bool:
    return not os.path.isdir(path) and path.lower().endswith(".safetensors")


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
