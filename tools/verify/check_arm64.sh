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
core=(src/core/dispatch.c src/core/ranges.c src/core/absmax.c src/core/quantize.c
    src/core/dequantize.c src/core/q8_0.c src/core/affine.c src/core/gather.c
    src/core/threads.c tools/verify/check_arm64.c)
# The SIMD levels above the baseline ("name:arch:flags:hand loops" lines) and
# each architecture's baseline hand loops, from their one list.
def=src/levels/levels.def
levels=$(sed -n 's/^INT8Q_LEVEL(\([a-z0-9_]*\), *\([a-z0-9_]*\), *"\([^"]*\)", *"[^"]*", *"[^"]*", *\([a-z0-9_]*\)).*/\1:\2:\3:\4/p' $def)
baseline_loops() { # architecture
    local loops
    loops=$(sed -n "s/^INT8Q_ARCH($1, *\([a-z0-9_]*\)).*/\1/p" $def)
    echo "${loops:-plain}"
}

# The level objects for one architecture (each level of another one as an
# absent table) into the folder $out/<tag>.
build_levels() { # compiler (words), architecture, tag
    local cc=$1 arch=$2 tag=$3 name level_arch level_flags loops
    mkdir "$out/$tag"
    # shellcheck disable=SC2086  # the compiler and flags are words
    $cc "${flags[@]}" -DINT8Q_LEVEL_NAME=baseline -DINT8Q_LEVEL_LOOPS="$(baseline_loops "$arch")" \
        -c src/levels/level.c -o "$out/$tag/baseline.o"
    while IFS=: read -r name level_arch level_flags loops; do
        if [ "$level_arch" = "$arch" ]; then
            # shellcheck disable=SC2086
            $cc "${flags[@]}" $level_flags -DINT8Q_LEVEL_NAME="$name" \
                -DINT8Q_LEVEL_LOOPS="$loops" -c src/levels/level.c -o "$out/$tag/$name.o"
        else
            # shellcheck disable=SC2086
            $cc "${flags[@]}" -DINT8Q_LEVEL_NAME="$name" -DINT8Q_LEVEL_LOOPS="$loops" \
                -DINT8Q_LEVEL_ABSENT=1 -c src/levels/level.c -o "$out/$tag/$name.o"
        fi
    done <<< "$levels"
}

# x86-64: the core, the baseline and every x86-64 level with its flags.
for src in "${core[@]}"; do
    gcc "${flags[@]}" -c "$src" -o "$out/core-$(basename "$src" .c).o"
done
build_levels gcc x86_64 x86-levels
gcc "$out"/core-*.o "$out"/x86-levels/*.o -lm -o "$out/x86"

# arm64: the core, the baseline (NEON) and the arm64 levels; the x86-64
# levels as absent tables.
build_arm64() { # compiler (words), output name
    local cc=$1 tag=$2
    build_levels "$cc" arm64 "$tag-levels"
    # shellcheck disable=SC2086
    $cc "${flags[@]}" -static "${core[@]}" "$out/$tag-levels"/*.o -lm -o "$out/$tag"
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
