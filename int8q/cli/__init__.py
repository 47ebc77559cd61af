"""The int8q command line.

    int8q quantize 1.0 -1.0 0.5 -0.5          print the dict form as JSON
    int8q quantize IN -o OUT [options]        quantize a checkpoint file
    int8q dequantize IN -o OUT                restore it
    int8q inspect FILE [--json]               list its tensors
    int8q compare ORIGINAL QUANTIZED          what each quantized tensor lost

IN is a .safetensors file, a Hugging Face model folder (config.json beside
its weights: written in compressed-tensors format), a sharded checkpoint
(its directory or its *.safetensors.index.json), a .npy, a .npz or a .gguf
(into Q8_0, as llama-quantize does); see int8q.io for the conventions.
With huggingface_hub installed, IN may also be a Hub model ID (org/name).
``quantize`` prints the dict form when every argument is a number and there
is no -o.

OUT is named for what is written (docs/semantics.md §4): the container's
suffix for a file, no file suffix for a folder.  An existing OUT is
replaced only with --force.  Every path written (OUT, --report, --plot) is
checked before anything is written: never an input, never an existing path
without --force.  On success a one-line summary goes to stderr
(-q: none; --json: the same data as JSON on stdout).

Errors print one line on stderr and exit with status 2.  An interrupt
(Ctrl-C, exit 130) or SIGTERM (``timeout``, a container stop; exit 143)
removes the unfinished output before exiting.
"""

import os
import signal
import sys
from collections.abc import Sequence

from ._common import CLIError, Terminated, one_line, sigterm_raises
from ._parser import build_parser

__all__ = ["CLIError", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "need_output", False) and args.output is None:
        print(
            f"int8q: error: {args.command} needs -o OUT, the file or folder to write "
            f"(for example: int8q {args.command} {args.input} -o OUT)",
            file=sys.stderr,
        )
        return 2
    try:
        with sigterm_raises():
            args.func(args)
            sys.stdout.flush()  # a closed pipe shows up here, not at exit
    except BrokenPipeError:
        # `int8q inspect ... | head`: the reader left; say nothing, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CLIError, ValueError, TypeError, OSError, MemoryError) as exc:
        print(f"int8q: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("int8q: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("int8q: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    return 0
