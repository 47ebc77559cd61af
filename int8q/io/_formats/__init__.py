"""Byte-level file formats: the headers, readers and writers of safetensors,
GGUF and .npy, which know nothing of what int8q stores in them.

They use _support only, never a container or the policy (an import-linter
layers contract in pyproject.toml).
"""
