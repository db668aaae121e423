# A throwaway PostgreSQL cluster for the tests: initdb in a temp dir, on a loopback port the kernel picks,
# password authentication (scram-sha-256) for every role. Source it, then call start_postgres; stop_postgres
# removes it. As root the server runs as the postgres user, as PostgreSQL requires.
#
# Exports: CONSOLEGATE_TEST_PG_PORT, CONSOLEGATE_TEST_PG_PASSWORD (of the superuser "postgres"),
# CONSOLEGATE_TEST_PG_DATA, CONSOLEGATE_TEST_PG_BIN, CONSOLEGATE_TEST_PG_OS_USER.

pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

start_postgres() {
    CONSOLEGATE_TEST_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    local root
    root=$(mktemp -d /tmp/consolegate-pg.XXXXXX)
    CONSOLEGATE_TEST_PG_DATA="$root/data"
    CONSOLEGATE_TEST_PG_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    CONSOLEGATE_TEST_PG_OS_USER=$(id -un)
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$root"
        CONSOLEGATE_TEST_PG_OS_USER=postgres
    fi
    chmod 700 "$root"
    printf '%s\n' "$CONSOLEGATE_TEST_PG_PASSWORD" >"$root/pwfile"
    [ "$(id -u)" = 0 ] && chown postgres: "$root/pwfile"
    pg_as_owner "$CONSOLEGATE_TEST_PG_BIN/initdb" -D "$CONSOLEGATE_TEST_PG_DATA" -U postgres --auth=scram-sha-256 \
        --pwfile="$root/pwfile" >"$root/initdb.log" 2>&1 || { cat "$root/initdb.log" >&2; return 1; }
    rm -f "$root/pwfile"
    export CONSOLEGATE_TEST_PG_PORT CONSOLEGATE_TEST_PG_PASSWORD CONSOLEGATE_TEST_PG_DATA CONSOLEGATE_TEST_PG_BIN CONSOLEGATE_TEST_PG_OS_USER
    # A port taken between free_port and the bind fails the start: try another.
    for _ in 1 2 3 4 5; do
        CONSOLEGATE_TEST_PG_PORT=$(free_port)
        postgres_ctl start && return 0
    done
    cat "$CONSOLEGATE_TEST_PG_DATA/server.log" >&2
    return 1
}

# postgres_ctl start|stop: the cluster's server, waiting until it is up or down (the HA test stops it
# under load and starts it again).
postgres_ctl() {
    case $1 in
        start)
            pg_as_owner "$CONSOLEGATE_TEST_PG_BIN/pg_ctl" -D "$CONSOLEGATE_TEST_PG_DATA" -l "$CONSOLEGATE_TEST_PG_DATA/server.log" -w \
                -o "-p $CONSOLEGATE_TEST_PG_PORT -k $CONSOLEGATE_TEST_PG_DATA -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null ;;
        stop)
            pg_as_owner "$CONSOLEGATE_TEST_PG_BIN/pg_ctl" -D "$CONSOLEGATE_TEST_PG_DATA" -m fast -w stop >/dev/null ;;
    esac
}

stop_postgres() {
    [ -n "${CONSOLEGATE_TEST_PG_DATA:-}" ] || return 0
    postgres_ctl stop 2>/dev/null || true
    rm -rf "$(dirname "$CONSOLEGATE_TEST_PG_DATA")"
}
