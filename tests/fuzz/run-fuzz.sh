#!/bin/sh
# run-fuzz.sh -- build ember's libFuzzer targets and run each for a while.
#
# Usage: tests/fuzz/run-fuzz.sh [target...]   (default: all of them)
# Environment:
#   FUZZ_SECONDS   seconds per target (default 20)
#   CC             a clang with libFuzzer (default: clang, else clang-14)
#   FUZZ_KEEP      if set, keep the work directory (corpora, artifacts)
#   FUZZ_ARTIFACTS a directory to copy crashing inputs to
#
# Each target is built with -fsanitize=fuzzer,address,undefined into a
# temporary directory and run with -max_len=65536; the directory is removed
# afterwards.  A crashing input is printed in hex; run `<target> FILE` to
# reproduce it (keep the binary with FUZZ_KEEP, the input with
# FUZZ_ARTIFACTS).  UBSAN_OPTIONS defaults to halt_on_error=1, so undefined
# behaviour stops a run like a crash; set it without halt_on_error to
# collect every report in one run.
#
# Exit status: 0 if no target crashed, 1 if one did, 77 (automake's
# "skipped") if clang or its libFuzzer runtime is missing.
set -u

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${FUZZ_SECONDS:-20}
targets=${*:-fuzz_msg fuzz_serialize fuzz_blockcodec fuzz_batch fuzz_creds}

if [ -z "${CC:-}" ]; then
    if command -v clang >/dev/null 2>&1; then CC=clang
    elif command -v clang-14 >/dev/null 2>&1; then CC=clang-14
    else
        echo "run-fuzz.sh: clang not found; skipping" >&2
        exit 77
    fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ember-fuzz.XXXXXX") || exit 1
if [ -z "${FUZZ_KEEP:-}" ]; then
    trap 'rm -rf "$work"' EXIT
    trap 'exit 130' INT TERM
else
    echo "run-fuzz.sh: keeping $work"
fi

# Is the libFuzzer runtime there?  (Debian/Ubuntu: libclang-rt-14-dev.)
cat >"$work/probe.c" <<'PROBE'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
PROBE
if ! "$CC" -fsanitize=fuzzer,address,undefined "$work/probe.c" \
        -o "$work/probe" >"$work/probe.log" 2>&1; then
    echo "run-fuzz.sh: $CC cannot link -fsanitize=fuzzer: the libFuzzer" \
         "runtime is missing (Debian/Ubuntu: apt-get install" \
         "libclang-rt-14-dev, or the libclang-rt-dev matching your clang);" \
         "skipping" >&2
    sed 's/^/  /' "$work/probe.log" >&2
    exit 77
fi

LUA_INC=${LUA_INC:-/usr/include/lua5.4}
LUA_LIB=${LUA_LIB:--llua5.4}

sources_of() {
    case $1 in
    fuzz_msg) echo core/rpc/msg.c core/sec/sec.c core/util/buf.c core/util/err.c ;;
    fuzz_creds) echo core/sec/sec.c core/util/err.c ;;
    fuzz_serialize)
        echo lua/serialize.c lua/ser_null.c lua/lbatch.c lua/lsplit.c \
             core/data/batch.c core/util/buf.c core/util/err.c ;;
    fuzz_batch) echo core/data/batch.c core/util/buf.c core/util/err.c ;;
    fuzz_blockcodec)
        echo core/codec/blockcodec.c core/shuffle/shuffle_file.c core/util/fsutil.c \
             core/util/crc32c.c core/util/buf.c core/util/err.c ;;
    *) return 1 ;;
    esac
}

status=0
for t in $targets; do
    if ! srcs=$(sources_of "$t"); then
        echo "run-fuzz.sh: unknown target $t" >&2
        status=1
        continue
    fi
    echo "== $t: building"
    # shellcheck disable=SC2086
    if ! (cd "$srcdir" && "$CC" -g -O1 -fsanitize=fuzzer,address,undefined \
            -D_GNU_SOURCE \
            -Iinclude -Icore -Ilua -I"$LUA_INC" "tests/fuzz/$t.c" $srcs \
            -llz4 -lsodium $LUA_LIB -lm -o "$work/$t"); then
        echo "== $t: BUILD FAILED"
        status=1
        continue
    fi
    mkdir -p "$work/corpus-$t" "$work/artifacts"
    # seeds kept in the repository (tests/fuzz/corpus/TARGET/), if any
    if [ -d "$srcdir/tests/fuzz/corpus/$t" ]; then
        cp "$srcdir/tests/fuzz/corpus/$t/"* "$work/corpus-$t/" 2>/dev/null
    fi
    echo "== $t: running for ${seconds}s"
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$work/$t" -max_len=65536 -max_total_time="$seconds" \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" \
        "$work/corpus-$t" >"$work/$t.log" 2>&1
    rc=$?
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^#[0-9]+ *DONE' \
        "$work/$t.log"
    if [ $rc -ne 0 ]; then
        echo "== $t: FAILED (exit $rc)"
        grep -E -A40 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error:|Lua error escaped' \
            "$work/$t.log" | head -80
        for a in "$work/artifacts/$t-"*; do
            [ -f "$a" ] || continue
            echo "   input ($(wc -c <"$a") bytes, hex):" \
                 "$(od -An -tx1 -v "$a" | tr -d ' \n' | cut -c1-1024)"
            if [ -n "${FUZZ_ARTIFACTS:-}" ] &&
                cp "$a" "$FUZZ_ARTIFACTS/$(basename "$a")"; then
                echo "   reproducer: $FUZZ_ARTIFACTS/$(basename "$a")"
            fi
        done
        status=1
    elif grep -q 'runtime error:' "$work/$t.log"; then
        # UBSAN_OPTIONS without halt_on_error: report, do not stop
        echo "== $t: FAILED (undefined behaviour reported)"
        grep -A12 'runtime error:' "$work/$t.log" | head -60
        status=1
    else
        echo "== $t: ok"
    fi
done
exit $status
