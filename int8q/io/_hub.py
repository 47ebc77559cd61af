"""Hugging Face Hub model IDs as inputs, resolved to a local folder.

Every command that reads a checkpoint (quantize, dequantize, inspect, and
any later one) turns its input into a local path with `resolve_model_path`:
a path that exists is used as it is; otherwise a name shaped like a Hub
model ID (``org/name``) is handed to huggingface_hub's ``snapshot_download``,
which serves it from its cache (``HF_HOME``, ``HF_HUB_CACHE``) and
downloads only what the cache lacks, or nothing at all under
``HF_HUB_OFFLINE=1``.  huggingface_hub is optional (``pip install
int8q[hub]``); without it an ID is reported as a missing path, with the hint.
"""

import os
import re

# A Hub model ID: one owner and one name (huggingface_hub's own check,
# validate_repo_id, allows these characters; "--" and ".." it refuses).
_MODEL_ID = re.compile(r"(?!.*(?:--|\.\.))[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}")
# Other copies of the weights that a repository may carry beside its
# safetensors; int8q reads none of them, so none is downloaded.
OTHER_WEIGHTS = [
    "*.bin",
    "*.pt",
    "*.pth",
    "*.ckpt",
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.onnx",
    "*.onnx_data",
    "*.tflite",
    "*.gguf",
    "onnx/*",
    "openvino/*",
    "coreml/*",
]


def resolve_model_path(name: str, revision: str | None = None) -> str:
    """A local path for `name`: `name` itself when it exists, else the
    snapshot folder of the Hub model ID `name` at `revision` (default: the
    main branch).

    Raises
    ------
    FileNotFoundError
        `name` neither exists nor resolves as a Hub model ID (one line that
        says why: not installed, not in the cache while offline, no such
        model or revision, the Hub unreachable).
    ValueError
        `revision` given with a local path.
    """
    if os.path.exists(name):
        if revision is not None:
            raise ValueError(
                f"{name} is a local path; a revision ({revision}) applies to Hub model IDs"
            )
        return name
    if not _MODEL_ID.fullmatch(name):
        raise FileNotFoundError(f"no such file or directory: {name}")
    try:
        import huggingface_hub
        from huggingface_hub import errors
    except ImportError:
        raise FileNotFoundError(
            f"no such file or directory: {name} (for the Hub model {name}, "
            f"install huggingface_hub: pip install 'int8q[hub]')"
        ) from None
    at = f" at revision {revision!r}" if revision else ""
    try:
        path: str = huggingface_hub.snapshot_download(
            name, revision=revision, ignore_patterns=OTHER_WEIGHTS
        )
    except errors.LocalEntryNotFoundError:
        why = (
            "not in the Hugging Face cache, and HF_HUB_OFFLINE is set"
            if huggingface_hub.constants.HF_HUB_OFFLINE
            else "not in the Hugging Face cache, and the Hub cannot be reached"
        )
        raise FileNotFoundError(f"{name}: no such local path; Hub model{at} {why}") from None
    except errors.GatedRepoError:
        raise FileNotFoundError(
            f"{name}: a gated Hub model; accept its terms on the Hub and log in (hf auth login)"
        ) from None
    except errors.RepositoryNotFoundError:
        raise FileNotFoundError(
            f"{name}: no such local path, nor a Hub model (or it is private: log in with "
            f"hf auth login)"
        ) from None
    except errors.RevisionNotFoundError:
        raise FileNotFoundError(f"{name}: the Hub model has no revision {revision!r}") from None
    except (errors.HfHubHTTPError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileNotFoundError(f"{name}: no such local path; Hub model{at}: {first}") from None
    return path
