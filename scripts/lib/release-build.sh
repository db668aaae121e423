# release_build BUILD_PATH PRODUCT...: the binaries as the package ships them, and the folder they are in on
# stdout (the build's log only when it fails). Release, with the Swift standard library and Foundation linked
# in statically (the package needs no Swift toolchain). The link keeps what every start touches small; each step
# is measured as idle RSS by scripts/bench.sh:
# - packed relative relocations (lld's DT_RELR, glibc 2.36): the position-independent daemon's relocations
#   shrink from 3.4 MB of RELA entries, read at every start and then resident, to 47 KB;
# - no exported symbols (SwiftPM exports every symbol of an executable, for tests that link it; nothing links
#   against these): 4.4 MB of symbol tables that the loader searched while it bound libc and libstdc++;
# - libstdc++ linked in, through a folder that holds only its archive and is searched before the compiler's
#   own (the shared library's): the loader no longer reads its symbol tables, and the little of it that runs is
#   laid out with the rest;
# - the code that runs laid out together: every function in a section of its own, and lld places the ones in
#   scripts/layout/PRODUCT.order first, in that order (what start-up and logins run, as they first run it;
#   scripts/layout.sh writes the lists). The kernel maps a program's pages 16 at a time around each one it runs
#   (fault-around), so code that runs scattered among code that never does costs 16 times its size.
# The first two took the daemon's idle RSS from 42 to 35 MiB, the other two to 25 MiB, and its monitor's from
# 7.0 to 4.7 MiB (README, "Benchmarks", has the rest).
# RELEASE_LAYOUT=profile links instead with every function on a page of its own, for scripts/layout.sh.
RELEASE_FLAGS=(-c release --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs
               -Xlinker --no-export-dynamic -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections)

release_build() {
    local build_path=$1 log product layout static_cxx cxx_archive
    shift
    cxx_archive=$(clang -print-file-name=libstdc++.a)
    [ -f "$cxx_archive" ] || { echo "release_build: no libstdc++.a where clang looks (install libstdc++-12-dev)" >&2; return 1; }
    layout=$(pwd)/scripts/layout
    # SwiftPM recompiles the root package when compile flags change, but not its dependencies: a folder built
    # with other flags starts again from nothing.
    if [ "$(cat "$build_path/release-flags" 2>/dev/null)" != "${RELEASE_FLAGS[*]}" ]; then
        rm -rf "$build_path"
        mkdir -p "$build_path"
        echo "${RELEASE_FLAGS[*]}" >"$build_path/release-flags"
    fi
    static_cxx=$(realpath -m "$build_path/static-libstdc++")
    mkdir -p "$static_cxx"
    ln -sfn "$cxx_archive" "$static_cxx/libstdc++.a"
    log=$(mktemp)
    for product in "$@"; do
        local link=(-Xlinker -L"$static_cxx")
        if [ "${RELEASE_LAYOUT:-}" = profile ]; then
            link+=(-Xlinker -T -Xlinker "$layout/one-function-per-page.lds")
        elif [ -f "$layout/$product.order" ]; then
            # Names that this build lacks (the list is older than the code) are skipped, not errors.
            link+=(-Xlinker --symbol-ordering-file="$layout/$product.order" -Xlinker --no-warn-symbol-ordering)
        fi
        if ! swift build "${RELEASE_FLAGS[@]}" "${link[@]}" --build-path "$build_path" --product "$product" >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            return 1
        fi
    done
    rm -f "$log"
    swift build "${RELEASE_FLAGS[@]}" --build-path "$build_path" --show-bin-path
}
