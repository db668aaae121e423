#!/usr/bin/env bash
# Fuzzes the parsers that read untrusted bytes with libFuzzer + AddressSanitizer (LeakSanitizer on).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      default: 30 seconds each, every target
#
# Targets: flatjson form basic-auth ssh-command xml-fields config pam-frames (Tests/Fuzz/targets/*.swift).
# Each target is compiled with `swiftc -sanitize=fuzzer,address` together with the real product sources it
# exercises (never copies) into .build-fuzz/<target>/. Then the committed regression inputs
# (Tests/Fuzz/regressions/<target>/) are replayed, and the target is fuzzed for SECONDS on a working corpus
# in .build-fuzz/corpus/<target>/ seeded from Tests/Fuzz/corpus/<target>/ (the committed seeds are never
# written to). A crash, leak, timeout or out-of-memory input is copied into Tests/Fuzz/regressions/<target>/
# and makes the script exit non-zero once every target has run. The `config` target needs the Yams sources:
# .build/checkouts/Yams (there after `swift build`), else a clone of $YAMS_GIT (default: the local package
# mirror /opt/swift-packages/jpsim/Yams.git) at the version pinned in Package.resolved.
#
# Environment: FUZZ_FRESH=1 starts each working corpus from the seeds only. One fuzzing process at a time, so
# the machine keeps a core free.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ALL_TARGETS=(flatjson form basic-auth ssh-command xml-fields config pam-frames)
DURATION=30
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    DURATION=$1
    shift
fi
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
for target in "${TARGETS[@]}"; do
    if [ ! -f "Tests/Fuzz/targets/$target.swift" ]; then
        echo "unknown target '$target' (known: ${ALL_TARGETS[*]})" >&2
        exit 2
    fi
done

# The Swift toolchain: swiftc on PATH, else /opt/swift. Its own clang and llvm-symbolizer come with it.
if command -v swiftc >/dev/null 2>&1; then
    SWIFTC=$(command -v swiftc)
elif [ -x /opt/swift/usr/bin/swiftc ]; then
    SWIFTC=/opt/swift/usr/bin/swiftc
else
    echo "swiftc not found (PATH or /opt/swift/usr/bin)" >&2
    exit 2
fi
TOOLCHAIN_BIN=$(dirname "$(readlink -f "$SWIFTC")")
CLANG=$TOOLCHAIN_BIN/clang
[ -x "$CLANG" ] || CLANG=$(command -v clang)
LINKER_FLAGS=()
# lld from the toolchain: gold warns about every ASan helper symbol.
if [ -x "$TOOLCHAIN_BIN/ld.lld" ]; then LINKER_FLAGS=(-use-ld=lld); fi
if [ -x "$TOOLCHAIN_BIN/llvm-symbolizer" ]; then export ASAN_SYMBOLIZER_PATH=$TOOLCHAIN_BIN/llvm-symbolizer; fi

OUT=$ROOT/.build-fuzz
FUZZ_DIR=$ROOT/Tests/Fuzz
mkdir -p "$OUT"

# Leak detection stays on (it is ASan's default on Linux; set explicitly so an inherited ASAN_OPTIONS
# cannot turn it off).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:handle_abort=1:symbolize=1"

# A failed invariant (fatalError) must reach libFuzzer as a plain SIGILL; the Swift runtime's own
# backtracer would otherwise read the stack in a way ASan reports as a stack-buffer-underflow of its own.
export SWIFT_BACKTRACE=enable=no

SWIFT_FLAGS=(-parse-as-library -sanitize=fuzzer,address -O -wmo -g "${LINKER_FLAGS[@]}")

max_len() {
    case $1 in
        basic-auth) echo 1024 ;;
        ssh-command) echo 9000 ;;     # just over SSHOriginalCommand.maximumLength (8192)
        pam-frames) echo 32768 ;;     # half a pipe's capacity: the target writes it all before reading
        xml-fields|config) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

yams_source() {
    if [ -d "$ROOT/.build/checkouts/Yams/Sources/CYaml" ]; then
        echo "$ROOT/.build/checkouts/Yams"
        return
    fi
    local dir=$OUT/Yams-src
    if [ ! -d "$dir/Sources/CYaml" ]; then
        local url=${YAMS_GIT:-/opt/swift-packages/jpsim/Yams.git}
        rm -rf "$dir"
        git clone --quiet "$url" "$dir" >&2
        local pin
        pin=$(python3 -c 'import json,sys; print(next(p["state"]["revision"] for p in json.load(open(sys.argv[1]))["pins"] if p["identity"].lower()=="yams"))' "$ROOT/Package.resolved" 2>/dev/null || true)
        if [ -n "$pin" ]; then git -C "$dir" checkout --quiet "$pin" >&2; fi
    fi
    echo "$dir"
}

# Yams (libyaml in C and the Swift layer) as a static library instrumented for coverage and ASan (the Swift
# part with -sanitize=fuzzer, which links nothing into a static library; -sanitize-coverage=edge would give the
# trace-pc-guard instrumentation that today's libFuzzer refuses). Rebuilt when the checkout, the compiler or
# this function changes.
build_yams() {
    local src dir stamp
    src=$(yams_source)
    dir=$OUT/yams
    stamp="$src $(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown) $("$SWIFTC" --version 2>&1 | head -1) $(declare -f build_yams | cksum)"
    if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$stamp" ] && [ -f "$dir/libYams.a" ]; then return; fi
    rm -rf "$dir"
    mkdir -p "$dir/obj"
    echo "-- building Yams from $src" >&2
    for c in "$src"/Sources/CYaml/src/*.c; do
        "$CLANG" -c -O1 -g -fsanitize=fuzzer-no-link,address -DYAML_DECLARE_EXPORT \
            -I "$src/Sources/CYaml/include" "$c" -o "$dir/obj/$(basename "$c" .c).o"
    done
    (cd "$dir" && "$SWIFTC" -emit-library -static -parse-as-library -module-name Yams -O -wmo -g -DSWIFT_PACKAGE \
        -sanitize=fuzzer,address \
        -emit-module -emit-module-path "$dir/Yams.swiftmodule" \
        -I "$src/Sources/CYaml/include" \
        "$src"/Sources/Yams/*.swift -o "$dir/libYams.a")
    echo "$stamp" > "$dir/stamp"
}

# A product module that a target's sources import (FormBody uses AWSSigV4's percent-decoding), built from the
# product's own files into a static library, instrumented like the target.
build_module() {   # build_module NAME SOURCE... (sources relative to $ROOT)
    local name=$1 dir=$OUT/$1
    shift
    mkdir -p "$dir"
    (cd "$dir" && "$SWIFTC" -emit-library -static -parse-as-library -module-name "$name" -O -wmo -g -sanitize=fuzzer,address \
        -emit-module -emit-module-path "$dir/$name.swiftmodule" "${@/#/$ROOT/}" -o "$dir/lib$name.a")
}

build_target() {
    local target=$1 dir=$OUT/$1
    mkdir -p "$dir"
    local module sources=() extra=()
    case $target in
        flatjson | form | basic-auth)
            # The gateway's body parsers wipe what they parse through the Secrets module.
            build_module Secrets Sources/Secrets/*.swift
            module=Gateway
            extra=(-I "$OUT/Secrets" "$OUT/Secrets/libSecrets.a")
            ;;&
        flatjson) sources=(Sources/Gateway/FlatJSON.swift Sources/Gateway/RequestFields.swift) ;;
        form)
            build_module AWSSigV4 Sources/AWSSigV4/URIEncoding.swift
            sources=(Sources/Gateway/FormBody.swift Sources/Gateway/RequestFields.swift)
            extra+=(-I "$OUT/AWSSigV4" "$OUT/AWSSigV4/libAWSSigV4.a")
            ;;
        basic-auth) sources=(Sources/Gateway/BasicCredentials.swift Sources/Gateway/RequestFields.swift) ;;
        ssh-command) module=consolegate; sources=(Sources/consolegate/SSHOriginalCommand.swift) ;;
        xml-fields) module=Minting; sources=(Sources/Minting/XMLFields.swift) ;;
        pam-frames) module=PAMProtocol; sources=(Sources/PAMProtocol/*.swift) ;;   # relative to $ROOT
        config)
            build_yams
            local src
            src=$(yams_source)
            module=GatewayConfig
            sources=(Sources/GatewayConfig/*.swift)   # relative to $ROOT (the glob runs there)
            extra=(-I "$OUT/yams" -I "$src/Sources/CYaml/include" "$OUT/yams/libYams.a" "$OUT"/yams/obj/*.o)
            ;;
    esac
    # From inside the target's folder: with -g, swiftc leaves <module>-1.swiftmodule etc. in the working directory.
    (cd "$dir" && "$SWIFTC" "${SWIFT_FLAGS[@]}" -module-name "$module" "${extra[@]}" \
        "$ROOT/Tests/Fuzz/targets/$target.swift" "${sources[@]/#/$ROOT/}" -o "$dir/fuzz")
}

declare -A RESULT STATS
FAILED=()

run_target() {
    local target=$1
    local dir=$OUT/$target corpus=$OUT/corpus/$target artifacts=$OUT/artifacts/$target
    local log=$dir/fuzz.log
    echo "== $target: build"
    if ! build_target "$target"; then
        RESULT[$target]="BUILD FAILED"; STATS[$target]=""; FAILED+=("$target"); return
    fi

    local regressions=()
    if [ -d "$FUZZ_DIR/regressions/$target" ]; then
        while IFS= read -r -d '' file; do regressions+=("$file"); done \
            < <(find "$FUZZ_DIR/regressions/$target" -type f ! -name '.*' ! -name '*.md' -print0 | sort -z)
    fi
    if [ ${#regressions[@]} -gt 0 ]; then
        echo "== $target: replaying ${#regressions[@]} regression input(s)"
        if ! "$dir/fuzz" -timeout=10 -rss_limit_mb=2048 "${regressions[@]}" > "$dir/regressions.log" 2>&1; then
            tail -40 "$dir/regressions.log"
            RESULT[$target]="REGRESSION FAILED (log: $dir/regressions.log)"; STATS[$target]=""; FAILED+=("$target"); return
        fi
    fi

    [ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$corpus"
    mkdir -p "$corpus"
    rm -rf "$artifacts"; mkdir -p "$artifacts"
    if [ -d "$FUZZ_DIR/corpus/$target" ]; then cp -n "$FUZZ_DIR/corpus/$target"/* "$corpus"/ 2>/dev/null || true; fi
    local dict=()
    if [ -f "$FUZZ_DIR/dictionaries/$target.dict" ]; then dict=(-dict="$FUZZ_DIR/dictionaries/$target.dict"); fi

    echo "== $target: fuzzing for ${DURATION}s (log: $log)"
    local status=0
    "$dir/fuzz" -max_total_time="$DURATION" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$target")" \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" > "$log" 2>&1 || status=$?

    local execs rate cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1 || true)
    cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
    ft=$( (grep -o 'ft: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
    STATS[$target]="exec/s=${rate:-?} execs=${execs:-?} cov=${cov:-?} ft=${ft:-?}"

    local found=()
    while IFS= read -r -d '' file; do found+=("$file"); done \
        < <(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) -print0)
    if [ ${#found[@]} -gt 0 ] || [ "$status" -ne 0 ]; then
        local names=()
        [ ${#found[@]} -gt 0 ] && mkdir -p "$FUZZ_DIR/regressions/$target"
        for file in "${found[@]}"; do
            cp "$file" "$FUZZ_DIR/regressions/$target/"
            names+=("$(basename "$file")")
        done
        grep -E '^(==[0-9]+==ERROR|SUMMARY|Fatal error|.*fatal error)' "$log" | head -5 || true
        RESULT[$target]="FAILED (exit $status): ${names[*]:-no artifact} -> Tests/Fuzz/regressions/$target/ (log: $log)"
        FAILED+=("$target")
    else
        RESULT[$target]="ok"
    fi
}

for target in "${TARGETS[@]}"; do
    run_target "$target"
done

echo
echo "== summary (${DURATION}s per target)"
for target in "${TARGETS[@]}"; do
    printf '%-12s %-60s %s\n' "$target" "${STATS[$target]}" "${RESULT[$target]}"
done
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "fuzzing FAILED for: ${FAILED[*]}" >&2
    exit 1
fi
