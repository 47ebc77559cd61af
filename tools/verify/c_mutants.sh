#!/usr/bin/env bash
# Hand-written mutants of the C core, each built and tested: every one must
# make its tests fail (docs/developer/mutation.md).
#
#   bash tools/verify/c_mutants.sh                      # every tools/verify/c_mutants/*.mut
#   bash tools/verify/c_mutants.sh tools/verify/c_mutants/01-crc32-tail.mut
#
# A .mut file sets `file` (a source file), `sed` (the edit: one sed script,
# which must change the file) and `tests` (the test files that must fail).
# The sources are copied (tracked and untracked files, not ignored ones) and
# built in place there, once unmodified (its tests must pass) and once per
# mutant; the checkout and any installed int8q are never touched.  PYTHON
# needs int8q's build requirements (Cython, NumPy, setuptools) and its test
# requirements: by default .venv-mutation/bin/python, the environment
# tools/mutation/run.sh makes, else python3.  Each build takes a minute or more.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-python3}"
[ -n "${PYTHON:-}" ] || [ ! -x "$root/.venv-mutation/bin/python" ] || python="$root/.venv-mutation/bin/python"
if [ $# -gt 0 ]; then mutants=("$@"); else mutants=("$root"/tools/verify/c_mutants/*.mut); fi

work="$(mktemp -d "${TMPDIR:-/tmp}/int8q-c-mutants.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/clean" "$work/cwd"
git -C "$root" ls-files -z --cached --others --exclude-standard |
    tar -C "$root" --null -T - -cf - | tar -C "$work/clean" -xf -

# Build the copy $1 in place, the compiled core removed first so that a
# failed build cannot leave the previous one to be tested.
build() {
    rm -f "$1"/int8q/_kernels*.so
    (cd "$1" && "$python" setup.py -q build_ext --inplace --force) > "$1/build.log" 2>&1
}

# Run test files $2... against the copy $1 (its int8q first on the path),
# from an empty folder as the suite requires.
run_tests() {
    local src="$1" args=()
    shift
    for t in "$@"; do args+=("$root/$t"); done
    (cd "$work/cwd" && PYTHONPATH="$src" PYTHONDONTWRITEBYTECODE=1 \
        "$python" -m pytest -x -q -p no:cacheprovider "${args[@]}") > "$src/test.log" 2>&1
}

# Every test file any mutant names, for the baseline.
all_tests=()
for mutant in "${mutants[@]}"; do
    # shellcheck source=/dev/null
    all_tests+=($(. "$mutant" && echo "$tests"))
done
mapfile -t all_tests < <(printf '%s\n' "${all_tests[@]}" | sort -u)

start=$SECONDS
echo "c_mutants: building the unmodified sources"
build "$work/clean" || { tail -n 30 "$work/clean/build.log"; echo "c_mutants: the unmodified build fails"; exit 2; }
if ! run_tests "$work/clean" "${all_tests[@]}"; then
    tail -n 30 "$work/clean/test.log"
    echo "c_mutants: the unmodified sources fail ${all_tests[*]}"
    exit 2
fi
echo "c_mutants: unmodified: builds, and ${all_tests[*]} pass ($((SECONDS - start)) s)"

printf '%-24s %-30s %7s %7s  %s\n' mutant file build tests result
survived=0
for mutant in "${mutants[@]}"; do
    name="$(basename "$mutant" .mut)"
    file="" sed="" tests=""
    # shellcheck source=/dev/null
    . "$mutant"
    copy="$work/$name"
    rm -rf "$copy"
    cp -a "$work/clean" "$copy"
    sed -i "$sed" "$copy/$file"
    t0=$SECONDS
    if cmp -s "$work/clean/$file" "$copy/$file"; then
        result="NOT APPLIED (the sed script no longer matches $file)"
        survived=$((survived + 1))
        build_s=- tests_s=-
    elif ! build "$copy"; then
        result="BUILD FAILED (not a test of the tests: see the edit)"
        survived=$((survived + 1))
        build_s=$((SECONDS - t0)) tests_s=-
    else
        build_s=$((SECONDS - t0))
        t0=$SECONDS
        # shellcheck disable=SC2086
        if run_tests "$copy" $tests; then
            result="SURVIVED"
            survived=$((survived + 1))
        else
            failed="$(grep -m1 -o '^FAILED [^ ]*' "$copy/test.log" || grep -m1 '^ERROR' "$copy/test.log" || true)"
            failed="${failed#FAILED }"
            case "$failed" in */tests/*) failed="tests/${failed#*/tests/}" ;; esac
            result="killed $failed"
        fi
        tests_s=$((SECONDS - t0))
    fi
    printf '%-24s %-30s %6ss %6ss  %s\n' "$name" "$file" "$build_s" "$tests_s" "$result"
    rm -rf "$copy"
done
echo "c_mutants: $((${#mutants[@]} - survived)) of ${#mutants[@]} killed in $((SECONDS - start)) s"
[ "$survived" = 0 ]
