"""What int8q.io accepts from a file, checked before anything is allocated.

Every reader of the package takes its JSON (safetensors headers, int8q
metadata, shard indexes) through `load_json` and its shapes through
`nbytes`, so one limit holds for all of them (README "Safety"):

- a JSON document is at most MAX_JSON_BYTES long (the safetensors library's
  own header limit), nested at most MAX_JSON_DEPTH deep, with at most
  MAX_JSON_KEYS keys in all (a safetensors header with four keys a tensor
  thus lists at most 250,000 tensors; the largest published checkpoints
  have a few thousand a shard).  Depth and keys are counted on the raw text
  before parsing, so a hostile header costs a linear scan, never Python's
  recursion limit or gigabytes of dicts;
- a shape's byte size must fit in a signed 64-bit integer (NumPy's limit).
"""
import json
import math
import re

import numpy as np

from ._errors import FormatError

MAX_JSON_BYTES = 100_000_000
MAX_JSON_DEPTH = 64
MAX_JSON_KEYS = 1_000_000
MAX_NBYTES = 2 ** 63 - 1

_ESCAPE = re.compile(rb"\\.", re.S)          # \" and \\ inside strings
_STRING = re.compile(rb'"[^"]*"')             # strings, once escapes are gone
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"[]{}:")


def _structure(data):
    """The brackets and colons of a JSON text, outside its strings.

    Escapes go first (left to right, so ``\\\\`` and ``\\"`` pair up as the
    JSON grammar pairs them); then every string is a quote, non-quotes and
    a quote.  Both passes are linear whatever the input (no backtracking).
    """
    return _STRING.sub(b"", _ESCAPE.sub(b"", data)).translate(None, _NOT_STRUCTURE)


def load_json(data, where, what):
    """Parse `data` (bytes or str) as UTF-8 JSON within the limits.

    `where` names the file and `what` the document ("header", "index",
    "int8q metadata") in every FormatError.  Duplicate keys are refused
    (which of two values a reader keeps is not defined).
    """
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError as exc:   # a lone surrogate from a \ud800 escape
            raise FormatError(f"{where}: corrupt {what}: {exc}") from None
    if len(data) > MAX_JSON_BYTES:
        raise FormatError(f"{where}: {what} of {len(data)} bytes is larger than the "
                          f"{MAX_JSON_BYTES}-byte limit")
    skeleton = np.frombuffer(_structure(data), np.uint8)
    opening = (skeleton == ord("[")) | (skeleton == ord("{"))
    closing = (skeleton == ord("]")) | (skeleton == ord("}"))
    depth = int(np.cumsum(opening.astype(np.int64) - closing).max(initial=0))
    if depth > MAX_JSON_DEPTH:
        raise FormatError(f"{where}: corrupt {what}: JSON nested {depth} deep (the limit "
                          f"is {MAX_JSON_DEPTH})")
    keys = int(skeleton.size - opening.sum() - closing.sum())
    if keys > MAX_JSON_KEYS:
        raise FormatError(f"{where}: {what} has {keys} keys (the limit is {MAX_JSON_KEYS})")
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where}: corrupt {what}: {exc}") from None
    except _DuplicateKey as exc:
        raise FormatError(f"{where}: corrupt {what}: duplicate key {exc.args[0]!r}") from None


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs):
    d = dict(pairs)
    if len(d) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return d


def nbytes(shape, itemsize, where, name):
    """The byte size of a checked shape (a tuple of ints >= 0); FormatError
    naming the file and tensor when it does not fit in 64 bits."""
    size = math.prod(shape) * itemsize
    # A zero dimension makes the product 0 whatever the others; NumPy still
    # refuses any dimension product (zeros skipped) past 2**63 - 1.
    if size > MAX_NBYTES or math.prod(d for d in shape if d) * max(itemsize, 1) > MAX_NBYTES:
        raise FormatError(f"{where}: tensor {name!r} has shape {tuple(shape)}, too large "
                          f"for any array (its byte size overflows 64 bits)")
    return size
