"""Write the golden files of tests/golden/ (run once per format version).

    python tests/golden/make.py

The files are checked in and never regenerated for an existing version:
tests/golden/test_golden.py holds every later int8q to reading them (and, while
the version is current, to writing them byte for byte).  A new format
version gets new files beside these, written by the int8q that defines it.
Written by int8q 0.1.0: int8q metadata version 1, codec chunk version 1.
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from checkpoints import write_safetensors  # noqa: E402

import int8q.io  # noqa: E402

# How each quantized golden file was made: options for int8q.io.quantize_file.
SAFETENSORS_V1 = {
    "metadata_v1_per_row.safetensors": {},
    "metadata_v1_per_tensor.safetensors": {"per_tensor": True},
    "metadata_v1_per_block.safetensors": {
        "block_size": 4,
        "rounding": "half_away",
        "all_tensors": True,
    },
}
NPZ_V1 = {"metadata_v1_npz.npz": "inputs.npz", "metadata_v1_npy.npz": "inputs_w.npy"}
CODEC_V1 = {"codec_v1_f32.bin": "<f4", "codec_v1_f16.bin": "<f2", "codec_v1_f64be.bin": ">f8"}


def inputs():
    """Small tensors with ties, zero rows and several dtypes (deterministic)."""
    w = np.arange(-14, 16, dtype=np.float32).reshape(5, 6) / 4
    w[2] = 0
    return {
        "w": w,
        "h": _cube(np.linspace(-3, 2, 21)).astype(np.float16).reshape(3, 7),
        "d": np.linspace(-1e3, 7e2, 12).reshape(2, 6),
        "b": np.float32([0.5, -0.25, 0.125]),
        "ids": np.arange(5, dtype=np.int64),
    }


def _cube(x):
    return x * x * x  # not x ** 3: pow() may differ by an ulp between C libraries


def codec_input(dtype):
    return _cube(np.linspace(-3, 5, 37)).astype(dtype)


def main():
    src = os.path.join(HERE, "inputs.safetensors")
    write_safetensors(src, inputs(), {"format": "pt"})
    for name, opts in SAFETENSORS_V1.items():
        int8q.io.quantize_file(src, os.path.join(HERE, name), **opts)
    with open(os.path.join(HERE, "inputs.npz"), "wb") as f:
        np.savez(f, **inputs())
    with open(os.path.join(HERE, "inputs_w.npy"), "wb") as f:
        np.save(f, inputs()["w"])
    for name, source in NPZ_V1.items():
        int8q.io.quantize_file(os.path.join(HERE, source), os.path.join(HERE, name))
    from int8q.codec import encode_chunk  # needs numcodecs: only when writing

    for name, dtype in CODEC_V1.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(encode_chunk(codec_input(dtype)))


if __name__ == "__main__":
    main()
