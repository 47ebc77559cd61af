"""What int8q writes, whatever the bytes' layout: the checkpoint convention
(which tensors, which scheme, scale names, metadata), the compressed-tensors
layout of a model folder, llama-quantize's GGUF tensor types, and the
suffixes that name outputs.

It uses the byte-level formats (their type names) and _support, never a
container (an import-linter layers contract in pyproject.toml).
"""
