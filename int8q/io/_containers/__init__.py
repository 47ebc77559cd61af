"""The containers: one module per checkpoint layout int8q.io reads and writes.

Each registered container has the interface of `_container.Container` and is
listed in `_registry.CONTAINERS`; _checkpoint plans and runs one safetensors
file for the safetensors containers.  Containers build on the policy
(_policy), the byte-level formats (_formats) and _support; none of those
imports a container (an import-linter layers contract in pyproject.toml).
"""
