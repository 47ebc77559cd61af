"""The argument parser of the ``int8q`` command: options, help and examples."""

import argparse
import re
from collections.abc import Callable
from typing import Any, NoReturn, get_args

from .. import __version__
from .._shared import ROUNDINGS, check_block_size
from .._typing import Scheme
from ._files import cmd_dequantize, cmd_quantize
from ._views import cmd_compare, cmd_inspect

# What argparse takes for a negative number rather than an option: the
# start of any float syntax (-2.5e2, -.5, -1e-3, -inf, -nan), not only the
# -1 and -0.5 that its own pattern matches before Python 3.13.  No int8q
# option starts so; a token that only starts like a number (-1x) is then
# refused as "not a number".
_NEGATIVE_NUMBER = re.compile(r"^-(?:\.?\d|(?i:inf|nan))")


class _Formatter(argparse.HelpFormatter):
    """The description wrapped as usual; the epilog (examples) kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors reported on one line like every other error,
    and negative numbers of any float syntax taken as values."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"int8q: error: {message} (see {self.prog} --help)\n")


def _choice(*values: str) -> Callable[[str], str]:
    """An argparse type: one of `values`, in any case, given back as spelled in `values`."""
    by_key = {v.lower(): v for v in values}

    def parse(text: str) -> str:
        try:
            return by_key[text.lower()]
        except KeyError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not one of {', '.join(values)} (any case)"
            ) from None

    parse.__name__ = "choice"
    return parse


def _block_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    try:
        return check_block_size(value)  # the same bounds as int8q.quantize's
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_QUANTIZE_EXAMPLES = """\
examples:
  int8q quantize model.safetensors -o model-int8.safetensors
  int8q quantize ./Qwen3-0.6B -o ./Qwen3-0.6B-W8A8 --scheme w8a8
  int8q quantize Qwen/Qwen3-0.6B -o ./Qwen3-0.6B-W8A16    # a Hub model ID
  int8q quantize model-f16.gguf -o model-q8_0.gguf
  int8q quantize weights.npy -o weights-int8.npz --block-size 64
  int8q quantize 1 -2.5e2 .5                             # numbers: the dict form

OUT is named for what is written: a .safetensors, .npz or .gguf file keeps
its container's suffix (a .npy becomes an .npz); a model folder or sharded
checkpoint is written as a folder named without a file suffix.  An existing
OUT is refused unless --force (it is then replaced in one step).
"""

_DEQUANTIZE_EXAMPLES = """\
examples:
  int8q dequantize model-int8.safetensors -o model.safetensors
  int8q dequantize ./Qwen3-0.6B-W8A16 -o ./Qwen3-0.6B-restored
  int8q dequantize weights-int8.npz -o weights.npy

OUT is named as for quantize: the restored container's suffix for a file
(.npy for an .npz made from a .npy), no file suffix for a folder.
"""

_INSPECT_EXAMPLES = """\
examples:
  int8q inspect model-int8.safetensors
  int8q inspect ./Qwen3-0.6B-W8A16 --json
  int8q inspect Qwen/Qwen3-0.6B --revision main
"""


def _add_compare(sub: "argparse._SubParsersAction[_Parser]") -> None:
    p = sub.add_parser(
        "compare",
        help="how much each tensor of a quantized checkpoint lost against its original",
        description="Compare QUANTIZED (written by int8q, a compressed-tensors model folder,\n"
        "or a Q8_0 GGUF) with ORIGINAL, the float checkpoint it was made from: per\n"
        "tensor, SQNR in dB, cosine similarity, max abs error and the shares of\n"
        "saturated and zero codes, in layer order; then a summary, and the tensors\n"
        "below --min-sqnr as the --skip options that would keep them in float.",
        epilog="examples:\n"
        "  int8q compare model.safetensors model-int8.safetensors\n"
        "  int8q compare MODEL_DIR MODEL_DIR-W8A8 --json > report.json\n"
        "  int8q compare model-f16.gguf model-q8_0.gguf --plot sqnr.png\n"
        "  int8q compare Qwen/Qwen3-0.6B ./Qwen3-0.6B-W8A16    # a Hub model ID",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("original", metavar="ORIGINAL", help="the float checkpoint")
    p.add_argument("quantized", metavar="QUANTIZED", help="the quantized checkpoint")
    p.add_argument("--json", action="store_true", help="print rows and summary as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="draw SQNR per tensor (needs matplotlib)")
    p.add_argument("--force", action="store_true", help="replace the --plot FILE if it exists")
    p.add_argument(
        "--min-sqnr",
        type=float,
        default=30.0,
        metavar="DB",
        help="list tensors below this SQNR as --skip candidates (default 30)",
    )
    _add_revision(p)
    p.set_defaults(func=cmd_compare)


def _add_output(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help=f"{what}: a file with its container's suffix, or a folder (no file suffix) "
        "for a sharded checkpoint or a Hugging Face model folder",
    )
    p.add_argument("--force", action="store_true", help="replace OUT if it exists (in one step)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no summary and no progress bar on stderr"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


def _add_revision(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--revision",
        metavar="REV",
        help="for a Hub model ID: the branch, tag or commit (default: main)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="int8q",
        description="Symmetric INT8 quantization of checkpoints and numbers.",
        epilog="run 'int8q COMMAND --help' for a command's options and examples",
    )
    parser.add_argument("--version", action="version", version=f"int8q {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "quantize",
        help="quantize a checkpoint file, or numbers given on the command line",
        description="Quantize IN (.safetensors, a Hugging Face model folder, a sharded "
        "checkpoint directory or its index, .npy, .npz, .gguf, or a Hub model ID) into "
        "OUT, and print a one-line summary on stderr.  With numbers and no -o, print "
        "the dict form (int8q.int8_quantize) as JSON.",
        epilog=_QUANTIZE_EXAMPLES,
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="IN|NUMBER",
        help="the checkpoint to quantize, or numbers (any float syntax: -2.5e2, -.5)",
    )
    _add_output(p, "the output")
    _add_revision(p)
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--per-tensor", action="store_true", help="one scale per tensor (default: one per row)"
    )
    how.add_argument(
        "--block-size",
        type=_block_size,
        metavar="B",
        help="one scale per B consecutive elements of the last axis",
    )
    p.add_argument(
        "--rounding",
        type=_choice(*ROUNDINGS),
        metavar="{" + ",".join(ROUNDINGS) + "}",
        help="how ties round (default half_even)",
    )
    p.add_argument(
        "--skip",
        action="append",
        metavar="GLOB",
        help="leave tensors whose name matches GLOB in float (repeatable; "
        "case-sensitive; a GLOB that matches no tensor is an error)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="also quantize 1-D floating tensors and integer tensors "
        "(a Hugging Face model folder: also lm_head; W8A16 only)",
    )
    p.add_argument(
        "--scheme",
        type=_choice(*get_args(Scheme)),
        metavar="{" + ",".join(get_args(Scheme)) + "}",
        help="a Hugging Face model folder's compressed-tensors scheme, in any case: W8A16 "
        "(default; weight-only, vLLM's CompressedTensorsWNA16) or W8A8 "
        "(int8 weights and dynamic per-token int8 activations, "
        "CompressedTensorsW8A8Int8)",
    )
    p.add_argument(
        "--clip",
        type=_choice("mse"),
        metavar="{mse}",
        help="mse: clip each row (tensor, block) where the squared error is "
        "smallest (default: no clipping, abs-max)",
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        help="also write what `int8q compare IN OUT --json` prints to FILE (an existing "
        "FILE only with --force; OUT and FILE are both written, or neither)",
    )
    onnx = p.add_argument_group(
        "ONNX models (onnxruntime quantize_dynamic's options; --skip names nodes)"
    )
    how.add_argument(
        "--per-channel",
        action="store_true",
        help="ONNX: one scale per output channel of each MatMul weight (per_channel=True)",
    )
    onnx.add_argument(
        "--reduce-range", action="store_true", help="ONNX: 7-bit weights (reduce_range=True)"
    )
    onnx.add_argument(
        "--weight-type",
        type=_choice("QInt8", "QUInt8"),
        metavar="{QInt8,QUInt8}",
        help="ONNX: the weights' type (default QInt8)",
    )
    onnx.add_argument(
        "--op-types",
        type=lambda text: tuple(t for t in text.split(",") if t),
        metavar="OP[,OP...]",
        help="ONNX: the operator types to quantize (default: quantize_dynamic's)",
    )
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser(
        "dequantize",
        help="restore a file written by int8q quantize",
        description="Restore IN (a file or folder written by int8q quantize, a "
        "compressed-tensors model folder, or a Hub model ID) to its original names, "
        "shapes and dtypes in OUT, and print a one-line summary on stderr.",
        epilog=_DEQUANTIZE_EXAMPLES,
    )
    p.add_argument("input", metavar="IN", help="the quantized checkpoint")
    _add_output(p, "the restored output (required)")
    _add_revision(p)
    p.set_defaults(func=cmd_dequantize, need_output=True)

    p = sub.add_parser(
        "inspect",
        help="list the tensors of a checkpoint file",
        description="List the tensors of FILE (any input of quantize, quantized or not), "
        "sorted by name, with shapes, dtypes, how each is stored and its size, then "
        "totals per dtype.  Reads headers only.",
        epilog=_INSPECT_EXAMPLES,
    )
    p.add_argument("input", metavar="FILE", help="the checkpoint (file, folder or Hub model ID)")
    p.add_argument("--json", action="store_true", help="print the list as JSON (sizes in bytes)")
    _add_revision(p)
    p.set_defaults(func=cmd_inspect)
    _add_compare(sub)
    return parser
