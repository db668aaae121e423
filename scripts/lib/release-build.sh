# release_build BUILD_PATH PRODUCT...: the binaries as the package ships them, and the folder they are in on
# stdout (the build's log only when it fails). Release, with the Swift standard library and Foundation linked
# in statically (the package needs no Swift toolchain). Two link options keep what every start touches small:
# - packed relative relocations (lld's DT_RELR, glibc 2.36): the position-independent daemon's relocations
#   shrink from 3.4 MB of RELA entries, read at every start and then resident, to 47 KB;
# - no exported symbols (SwiftPM exports every symbol of an executable, for tests that link it; nothing links
#   against these): 4.4 MB of symbol tables that the loader searched while it bound libc and libstdc++.
# Together the daemon's idle RSS went from 42 to 37 MiB (scripts/bench.sh).
RELEASE_FLAGS=(-c release --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs
               -Xlinker --no-export-dynamic)

release_build() {
    local build_path=$1 log product
    shift
    log=$(mktemp)
    for product in "$@"; do
        if ! swift build "${RELEASE_FLAGS[@]}" --build-path "$build_path" --product "$product" >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            return 1
        fi
    done
    rm -f "$log"
    swift build "${RELEASE_FLAGS[@]}" --build-path "$build_path" --show-bin-path
}
