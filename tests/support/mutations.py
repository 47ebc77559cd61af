"""Hypothesis strategies that damage a valid file the way fuzzers do.

`mutated(seed)` draws a short list of edits (flip a bit, set a byte to an
interesting value, overwrite with random bytes, insert, delete, truncate,
duplicate a span) and applies them to `seed`.  Starting from a valid file
keeps most examples deep in the parser, past the magic and the length
fields, where hand-written tests rarely go.
"""

from hypothesis import strategies as st

INTERESTING = [
    0x00,
    0x01,
    0x7F,
    0x80,
    0xFF,
    ord("["),
    ord("{"),
    ord('"'),
    ord(","),
    ord("-"),
    ord("9"),
    ord("e"),
    ord("\\"),
    ord("("),
    ord(")"),
]


@st.composite
def _edit(draw, size):
    kind = draw(
        st.sampled_from(["flip", "set", "overwrite", "insert", "delete", "truncate", "duplicate"])
    )
    at = draw(st.integers(0, max(size, 1)))
    if kind == "flip":
        return kind, at, 1 << draw(st.integers(0, 7))
    if kind == "set":
        return kind, at, draw(st.sampled_from(INTERESTING) | st.integers(0, 255))
    if kind in ("overwrite", "insert"):
        return kind, at, draw(st.binary(min_size=1, max_size=16))
    return kind, at, draw(st.integers(1, 64))


def apply(data, edits):
    data = bytearray(data)
    for kind, at, arg in edits:
        at = min(at, len(data))
        if kind == "flip" and at < len(data):
            data[at] ^= arg
        elif kind == "set" and at < len(data):
            data[at] = arg
        elif kind == "overwrite":
            data[at : at + len(arg)] = arg
        elif kind == "insert":
            data[at:at] = arg
        elif kind == "delete":
            del data[at : at + arg]
        elif kind == "truncate":
            del data[at:]
        elif kind == "duplicate":
            data[at:at] = data[at : at + arg]
    return bytes(data)


def mutated(seed, max_edits=4):
    """A strategy of byte strings: `seed` with 1 to `max_edits` edits."""
    return st.lists(_edit(len(seed)), min_size=1, max_size=max_edits).map(
        lambda edits: apply(seed, edits)
    )
