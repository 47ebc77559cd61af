"""int8q.io's options go through int8q's intake: a flag is True or False
(the string "False" is not False), a path is a str or os.PathLike, and a
refused option leaves every file as it was."""

import numpy as np
import pytest
from checkpoints import listing

import int8q.io


@pytest.fixture
def files(tmp_path):
    src, dst = tmp_path / "w.npy", tmp_path / "q.npz"
    np.save(src, np.ones((4, 8), np.float32))
    int8q.io.quantize_file(src, dst)
    return src, dst


@pytest.mark.parametrize("flag", ["force", "per_tensor", "all_tensors", "progress"])
@pytest.mark.parametrize("value", ["False", "no", 0, 1, None, np.array([True])])
def test_quantize_file_flags_must_be_booleans(tmp_path, files, flag, value):
    src, dst = files
    before, listed = dst.read_bytes(), listing(tmp_path)
    with pytest.raises(TypeError, match=rf"^{flag} must be True or False, got "):
        int8q.io.quantize_file(src, dst, **{flag: value})
    assert dst.read_bytes() == before and listing(tmp_path) == listed


@pytest.mark.parametrize("flag", ["force", "progress"])
def test_dequantize_file_flags_must_be_booleans(tmp_path, files, flag):
    src, dst = files
    back = tmp_path / "back.npy"
    back.write_bytes(b"keep")
    with pytest.raises(TypeError, match=rf"^{flag} must be True or False, got 'False'"):
        int8q.io.dequantize_file(dst, back, **{flag: "False"})
    assert back.read_bytes() == b"keep"


def test_numpy_booleans_are_booleans(tmp_path, files):
    src, _ = files
    int8q.io.quantize_file(src, tmp_path / "p.npz", per_tensor=np.True_, force=np.False_)
    assert int8q.io.inspect_file(tmp_path / "p.npz")[0]["scheme"] == "per_tensor"


@pytest.mark.parametrize("value", [True, "16", 16.0])
def test_block_size_goes_through_the_intake(tmp_path, files, value):
    src, _ = files
    with pytest.raises(TypeError, match="^block_size must be an integer"):
        int8q.io.quantize_file(src, tmp_path / "b.npz", block_size=value)


def test_paths_must_be_str_or_pathlike(tmp_path, files):
    src, dst = files
    for call in (
        lambda: int8q.io.quantize_file(bytes(src), tmp_path / "x.npz"),
        lambda: int8q.io.quantize_file(src, 3),
        lambda: int8q.io.dequantize_file(dst, None),
        lambda: int8q.io.inspect_file(1.5),
        lambda: int8q.io.compare_files(src, [dst]),
        lambda: int8q.io.detect_format(b"w.npy"),
    ):
        with pytest.raises(TypeError, match="must be a str or os.PathLike path"):
            call()


def test_skip_is_a_pattern_or_patterns(tmp_path):
    src = tmp_path / "m.npz"
    np.savez(src, wa=np.ones((2, 4), np.float32), b=np.ones((2, 4), np.float32))
    # one str is one pattern, not one pattern per character ("w*" skips wa only)
    int8q.io.quantize_file(src, tmp_path / "q.npz", skip="w*")
    schemes = {r["name"]: r["scheme"] for r in int8q.io.inspect_file(tmp_path / "q.npz")}
    assert schemes["wa"] == "none" and schemes["b"] == "per_row"
    for bad in (5, [1], ["w", None], [b"w"]):
        with pytest.raises(TypeError, match="^skip must be a glob pattern"):
            int8q.io.quantize_file(src, tmp_path / "r.npz", skip=bad)
    assert not (tmp_path / "r.npz").exists()
