#!/usr/bin/env bash
# Mutation testing from a fresh clone (docs/developer/mutation.md):
#
#   bash tools/mutation/run.sh --sample 100     # a fixed-seed sample: under 10 minutes
#   bash tools/mutation/run.sh --full           # every mutant: before a release (hours)
#
# Creates .venv-mutation once (INT8Q_MUTATION_VENV names another), with the
# pinned tool and the build requirements (tools/mutation/requirements.txt),
# installs int8q from this checkout with its test requirements whenever its
# sources changed since the last install, then runs tools/mutation/run.py
# with the arguments given.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${INT8Q_MUTATION_VENV:-.venv-mutation}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet -r tools/mutation/requirements.txt
fi
# The mutants are made from the installed copy, which must be this checkout's.
sources="$(git ls-files -z int8q src setup.py pyproject.toml | xargs -0 cat | sha256sum | cut -c1-16)"
if [ "$(cat "$venv/.int8q-sources" 2> /dev/null)" != "$sources" ]; then
    "$venv/bin/python" -m pip install --quiet ".[test]"
    echo "$sources" > "$venv/.int8q-sources"
fi
exec "$venv/bin/python" tools/mutation/run.py "$@"
