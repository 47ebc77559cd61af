"""The int8q command line.

    int8q quantize 1.0 -1.0 0.5 -0.5     print the seed dict as JSON

Errors print one line on stderr and exit with status 2.
"""
import argparse
import json
import sys

from ._seed import int8_quantize
from ._version import __version__


class CLIError(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


def _parse_number(text):
    try:
        return float(text)
    except ValueError:
        raise CLIError(f"not a number: {text!r}") from None


def cmd_quantize(args):
    values = [_parse_number(t) for t in args.values]
    print(json.dumps(int8_quantize(values)))


def build_parser():
    parser = argparse.ArgumentParser(
        prog="int8q", description="Symmetric INT8 quantization.")
    parser.add_argument("--version", action="version", version=f"int8q {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("quantize", help="quantize numbers given on the command line")
    p.add_argument("values", nargs="+", metavar="NUMBER")
    p.set_defaults(func=cmd_quantize)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (CLIError, ValueError, TypeError, OSError) as exc:
        print(f"int8q: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
