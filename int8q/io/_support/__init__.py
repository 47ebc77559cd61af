"""What every layer of int8q.io shares: FormatError, the limits on untrusted
input, reading without memory maps, atomic outputs and progress bars.

It imports nothing else of int8q.io (an import-linter layers contract in
pyproject.toml).
"""
