# Shared by the root-only system tests (Tests/PAM/ldap_test.sh, Tests/Gateway/sshd_test.sh): counting checks,
# reporting them, and installing missing Debian packages. Source it; set WORK (a scratch directory) first.

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
# fail MESSAGE [DETAIL]: DETAIL is shown indented under it.
fail() {
    local line
    failed=$((failed + 1)); echo "FAIL: $1"
    [[ -z "${2:-}" ]] || while IFS= read -r line; do echo "    | $line"; done <<<"$2"
}
log() { echo "== $*"; }
abort() { fail "$1" "${2:-}"; exit 1; }

# The closing line the CI reads, and the exit status: failure if any check failed or none ran.
report_and_exit() {
    echo "$passed passed, $failed failed"
    if ((failed > 0 || passed == 0)); then exit 1; fi
    exit "${1:-0}"
}

# Runs the script's `finish` function at exit, also after Ctrl-C or a TERM (counted as a failure).
trap_finish() {
    trap finish EXIT
    trap 'fail "interrupted (SIGINT)"; exit 130' INT
    trap 'fail "interrupted (SIGTERM)"; exit 143' TERM
}

# Sets `missing` to the packages among the arguments that are not installed.
find_missing_packages() {
    missing=()
    local package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
    done
}

# Installs "${missing[@]}" without prompts or config-file questions, updating the package lists once if needed.
install_missing_packages() {
    log "installing ${missing[*]}"
    apt_install() {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >"$WORK/apt.log" 2>&1
    }
    if ! apt_install; then
        apt-get update -q >>"$WORK/apt.log" 2>&1
        apt_install || abort "apt-get install ${missing[*]}" "$(tail -20 "$WORK/apt.log")"
    fi
}

# Stops a process we started: TERM, a bounded wait, then KILL.
stop_pid() {
    local pid=$1 i
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# Users and groups just created or removed must not be served stale from nscd's cache.
nscd_flush() { command -v nscd >/dev/null && { nscd -i passwd; nscd -i group; } >/dev/null 2>&1; return 0; }
