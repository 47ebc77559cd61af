#!/usr/bin/env bash
# The C core on arm64 computes what it computes on x86-64, bit for bit.
#
# Builds tools/check_arm64.c with the core's C sources twice: for this
# x86-64 machine (run once per SIMD level the CPU has) and for arm64 with
# aarch64-linux-gnu-gcc (run under qemu-aarch64), with setup.py's flags, and
# compares the digests they print; with clang installed, an arm64 build by
# clang as well.  Needs: apt-get install gcc-aarch64-linux-gnu qemu-user.
# Exit status 0 when all agree.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags=(-O3 -ffp-contract=off -fno-math-errno -std=c99 -Isrc)
core=(src/int8q_kernels.c src/int8q_gather.c src/int8q_affine.c src/int8q_level_baseline.c
    tools/check_arm64.c)

for src in "${core[@]}"; do
    gcc "${flags[@]}" -DINT8Q_HAVE_AVX2=1 -DINT8Q_HAVE_AVX512=1 -c "$src" \
        -o "$out/$(basename "$src" .c).o"
done
gcc "${flags[@]}" -mavx2 -mfma -mf16c -c src/int8q_level_avx2.c -o "$out/avx2.o"
gcc "${flags[@]}" -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c \
    -c src/int8q_level_avx512.c -o "$out/avx512.o"
gcc "$out"/*.o -lm -o "$out/x86"

aarch64-linux-gnu-gcc "${flags[@]}" -static "${core[@]}" -lm -o "$out/arm64"
qemu-aarch64 "$out/arm64" > "$out/arm64.txt"
echo "arm64 (qemu): $(wc -l < "$out/arm64.txt") cases"

status=0
# Clang, when there, builds arm64 too (Apple's clang builds the macOS wheels).
if command -v clang > /dev/null; then
    clang --target=aarch64-linux-gnu "${flags[@]}" -static "${core[@]}" -lm -o "$out/arm64-clang"
    qemu-aarch64 "$out/arm64-clang" > "$out/arm64-clang.txt"
    if cmp -s "$out/arm64-clang.txt" "$out/arm64.txt"; then
        echo "arm64 built by clang: identical to arm64 built by gcc"
    else
        echo "arm64 built by clang: DIFFERS from arm64 built by gcc"
        status=1
    fi
fi
for level in 0 1 2; do
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
