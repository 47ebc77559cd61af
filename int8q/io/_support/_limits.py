"""What int8q.io accepts from a file, checked before anything is allocated.

Every reader of the package takes its JSON (safetensors headers, int8q
metadata, shard indexes) through `load_json` and its shapes through
`nbytes`, so one limit holds for all of them (docs/safety.md):

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
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._errors import FormatError

MAX_JSON_BYTES = 100_000_000
MAX_JSON_DEPTH = 64
MAX_JSON_KEYS = 1_000_000
MAX_NBYTES = 2**63 - 1
SHOWN_JSON_CHARS = 60  # of a wrong value, in an error message

_SCAN_CHUNK = 1 << 22  # bytes per step of the structure scan: bounded temporaries


def _depth_and_keys(data: bytes) -> tuple[int, int]:
    """(deepest nesting, number of keys) of a JSON text, counted outside its
    strings, in linear time and bounded memory, whatever the input.

    Escaped backslashes go first, then escaped quotes (bytes.replace scans
    left to right, pairing backslashes as the JSON grammar does), so every
    quote left opens or closes a string: a byte is inside a string when an
    odd number of quotes precede it.
    """
    text = np.frombuffer(data.replace(b"\\\\", b"").replace(b'\\"', b""), np.uint8)
    depth = keys = level = 0
    inside = np.uint8(0)
    for start in range(0, text.size, _SCAN_CHUNK):
        chunk = text[start : start + _SCAN_CHUNK]
        parity = (np.cumsum(chunk == ord('"'), dtype=np.uint8) + inside) & 1
        inside = parity[-1]
        outside = chunk[parity == 0]
        steps = ((outside == ord("[")) | (outside == ord("{"))).astype(np.int64)
        steps -= (outside == ord("]")) | (outside == ord("}"))
        levels = np.cumsum(steps) + level
        if levels.size:
            depth = max(depth, int(levels.max()))
            level = int(levels[-1])
        keys += int(np.count_nonzero(outside == ord(":")))
    return depth, keys


def load_json(data: bytes | str, where: str, what: str) -> Any:  # (JSON: checked by callers)
    """Parse `data` (bytes or str) as UTF-8 JSON within the limits.

    `where` names the file and `what` the document ("header", "index",
    "int8q metadata") in every FormatError.  Duplicate keys are refused
    (which of two values a reader keeps is not defined).
    """
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate from a \ud800 escape
            raise FormatError(f"{where}: corrupt {what}: {exc}") from None
    if len(data) > MAX_JSON_BYTES:
        raise FormatError(
            f"{where}: {what} of {len(data)} bytes is larger than the {MAX_JSON_BYTES}-byte limit"
        )
    depth, keys = _depth_and_keys(data)
    if depth > MAX_JSON_DEPTH:
        raise FormatError(
            f"{where}: corrupt {what}: JSON nested {depth} deep (the limit is {MAX_JSON_DEPTH})"
        )
    if keys > MAX_JSON_KEYS:
        raise FormatError(f"{where}: {what} has {keys} keys (the limit is {MAX_JSON_KEYS})")
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where}: corrupt {what}: {exc}") from None
    except _DuplicateKey as exc:
        raise FormatError(f"{where}: corrupt {what}: duplicate key {exc.args[0]!r}") from None
    # json.loads keeps a lone surrogate escape ("\ud800") as a str no UTF-8
    # can encode (safetensors' own reader refuses it); only an escape makes one.
    if _ESCAPED_SURROGATE.search(data) and (bad := _lone_surrogate(doc)) is not None:
        raise FormatError(f"{where}: corrupt {what}: a lone surrogate in the string {bad!r}")
    return doc


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: Any) -> str | None:
    """The first string (key or value) of a JSON document holding a surrogate."""
    if isinstance(value, str):
        return value if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        parts = [part for pair in value.items() for part in pair]
    elif isinstance(value, list):
        parts = value
    else:
        return None
    return next((bad for part in parts if (bad := _lone_surrogate(part)) is not None), None)


def shown(value: Any) -> str:
    """A JSON value as an error message quotes it: cut to SHOWN_JSON_CHARS."""
    text = json.dumps(value)
    return text if len(text) <= SHOWN_JSON_CHARS else text[: SHOWN_JSON_CHARS - 3] + "..."


def check_writable(text: str | bytes, what: str) -> None:
    """FormatError, before anything is written, when JSON that int8q is about
    to write breaks the limits it reads with (what int8q writes, it reads)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    depth, keys = _depth_and_keys(data)
    if len(data) > MAX_JSON_BYTES or keys > MAX_JSON_KEYS or depth > MAX_JSON_DEPTH:
        raise FormatError(
            f"the output's {what} would have {len(data)} bytes and {keys} keys; "
            f"int8q reads at most {MAX_JSON_BYTES} bytes and {MAX_JSON_KEYS} "
            f"keys (split the checkpoint into shards)"
        )


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return d


def nbytes(shape: Sequence[int], itemsize: int, where: str, name: str) -> int:
    """The byte size of a checked shape (a tuple of ints >= 0); FormatError
    naming the file and tensor when it does not fit in 64 bits."""
    size = math.prod(shape) * itemsize
    # A zero dimension makes the product 0 whatever the others; NumPy still
    # refuses any dimension product (zeros skipped) past 2**63 - 1.
    if (
        size > MAX_NBYTES
        or size == 0
        and math.prod(d for d in shape if d) * max(itemsize, 1) > MAX_NBYTES
    ):
        raise FormatError(
            f"{where}: tensor {name!r} has shape {tuple(shape)}, too large "
            f"for any array (its byte size overflows 64 bits)"
        )
    return size
