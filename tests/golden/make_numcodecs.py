"""Write tests/golden/numcodecs_v1/: codec chunks (format version 1) in the
layout of numcodecs' `check_backwards_compatibility` (run once per format
version).

    python tests/golden/make_numcodecs.py

The layout is what the helper reads under ``fixture/int8q/``::

    array.NN.npy            the input arrays (C and F order, 1-D to 3-D, f2/f4/f8)
    codec.JJ/config.json    the codec's configuration (CODECS[JJ])
    codec.JJ/encoded.NN.dat the chunk of array NN, encoded by codec JJ

tests/addons/test_codec_contract.py copies the folder to a temporary
directory and runs the helper there, so a test run never writes into the
checkout.  The files are checked in and never regenerated for an existing
version.  Written by int8q 0.1.0 (codec chunk version 1).

A numcodecs codec is given the values in the buffer's memory order (an
F-ordered array as ``arr.ravel(order="A")``), so each chunk is the encoding
of that memory-order sequence: what every codec writing chunk version 1
stores for it.
"""

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "numcodecs_v1")
# Configurations of the codecs, in codec.JJ order (as JSON has them).
CODECS = [{"id": "int8q", "rounding": "half_even"}, {"id": "int8q", "rounding": "half_away"}]
SHAPES = [(12,), (3, 4), (2, 3, 4)]
DTYPES = ["<f2", "<f4", "<f8"]


def _cube(x):
    return x * x * x  # not x ** 3: pow() may differ by an ulp between C libraries


def arrays():
    """The input arrays, deterministic: within [-1, 1], with no symmetry, so
    values put back in the wrong places show."""
    out = []
    for shape in SHAPES:
        n = int(np.prod(shape))
        values = _cube(np.linspace(-0.75, 1.0, n))
        values[1] = 1.5 / 127  # about 1.5 scales: near a rounding tie
        for order in "CF" if len(shape) > 1 else "C":
            for dtype in DTYPES:
                out.append(np.asarray(values.reshape(shape), dtype=dtype, order=order))
    out.append(np.asarray(_cube(np.linspace(1.0, -0.5, 12)).reshape(4, 3), ">f4", order="F"))
    return out


def main():
    import numcodecs

    import int8q.codec  # noqa: F401  (registers the codec id with numcodecs)

    os.makedirs(FIXTURE, exist_ok=True)
    for i, arr in enumerate(arrays()):
        np.save(os.path.join(FIXTURE, f"array.{i:02d}.npy"), arr)
    for j, config in enumerate(CODECS):
        codec = numcodecs.get_codec(dict(config))
        folder = os.path.join(FIXTURE, f"codec.{j:02d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(codec.get_config(), f, sort_keys=True, indent=4)
        for i, arr in enumerate(arrays()):
            with open(os.path.join(folder, f"encoded.{i:02d}.dat"), "wb") as f:
                f.write(codec.encode(arr.ravel(order="A")))


if __name__ == "__main__":
    sys.exit(main())
