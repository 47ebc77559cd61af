#!/usr/bin/env bash
# The C core on arm64 computes what it computes on x86-64, bit for bit.
#
# Builds tools/verify/check_arm64.c with the core's C sources twice: for this
# x86-64 machine (run once per SIMD level the CPU has) and for arm64 with
# aarch64-linux-gnu-gcc (run under qemu-aarch64), with setup.py's flags, and
# compares the digests they print; with clang installed, an arm64 build by
# clang as well.  Needs: apt-get install gcc-aarch64-linux-gnu qemu-user.
# Exit status 0 when all agree.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags=(-O3 -ffp-contract=off -fno-math-errno -std=c99 -Isrc)
core=(src/core/dispatch.c src/core/drivers.c src/core/affine.c src/core/gather.c
    src/core/threads.c tools/verify/check_arm64.c)
# The SIMD levels above the baseline ("name:flags" lines), from their one list.
levels=$(sed -n 's/^INT8Q_LEVEL(\([a-z0-9_]*\), *"\([^"]*\)".*/\1:\2/p' src/levels/levels.def)

# x86-64: the core, the baseline and every level with its flags.
for src in "${core[@]}"; do
    gcc "${flags[@]}" -c "$src" -o "$out/$(basename "$src" .c).o"
done
gcc "${flags[@]}" -DINT8Q_LEVEL_NAME=baseline -c src/levels/level.c -o "$out/level-baseline.o"
while IFS=: read -r name level_flags; do
    # shellcheck disable=SC2086  # the flags are words
    gcc "${flags[@]}" $level_flags -DINT8Q_LEVEL_NAME="$name" -c src/levels/level.c \
        -o "$out/level-$name.o"
done <<< "$levels"
gcc "$out"/*.o -lm -o "$out/x86"

# arm64: the core and the baseline (NEON), the x86-64 levels as absent tables.
build_arm64() { # compiler (words), output name
    local cc=$1 tag=$2 objs=() name level_flags
    while IFS=: read -r name level_flags; do
        # shellcheck disable=SC2086
        $cc "${flags[@]}" -DINT8Q_LEVEL_NAME="$name" -DINT8Q_LEVEL_ABSENT=1 \
            -c src/levels/level.c -o "$out/$tag-absent-$name.o"
        objs+=("$out/$tag-absent-$name.o")
    done <<< "$levels"
    # shellcheck disable=SC2086
    $cc "${flags[@]}" -static -DINT8Q_LEVEL_NAME=baseline "${core[@]}" src/levels/level.c \
        "${objs[@]}" -lm -o "$out/$tag"
}
build_arm64 aarch64-linux-gnu-gcc arm64
qemu-aarch64 "$out/arm64" > "$out/arm64.txt"
echo "arm64 (qemu): $(wc -l < "$out/arm64.txt") cases"

status=0
# Clang, when there, builds arm64 too (Apple's clang builds the macOS wheels).
if command -v clang > /dev/null; then
    build_arm64 "clang --target=aarch64-linux-gnu" arm64-clang
    qemu-aarch64 "$out/arm64-clang" > "$out/arm64-clang.txt"
    if cmp -s "$out/arm64-clang.txt" "$out/arm64.txt"; then
        echo "arm64 built by clang: identical to arm64 built by gcc"
    else
        echo "arm64 built by clang: DIFFERS from arm64 built by gcc"
        status=1
    fi
fi
for level in $(seq 0 "$(wc -l <<< "$levels")"); do
    if "$out/x86" "$level" > "$out/x86-$level.txt" 2>/dev/null; then
        if cmp -s "$out/x86-$level.txt" "$out/arm64.txt"; then
            echo "x86-64 level $level: identical to arm64"
        else
            echo "x86-64 level $level: DIFFERS from arm64"
            diff "$out/x86-$level.txt" "$out/arm64.txt" | head -20 || true
            status=1
        fi
    else
        echo "x86-64 level $level: not on this CPU"
    fi
done
exit $status
