#!/usr/bin/env bash
# End-to-end test of pam/consolegate-ldap against a real (throwaway) LDAP directory:
#   slapd on a free loopback port (mdb in a temp dir) -> nslcd (foreground, /etc/nslcd.conf) -> pam_ldap.so
#   (the service file installed as /etc/pam.d/consolegate-ldap-test) and libnss_ldap (nsswitch passwd/group).
# Authentication goes through `$CONSOLEGATE_BIN authenticate` (default .build/debug/consolegate), or through
# pamtester when LDAP_TEST_WITH_PAMTESTER=1.
#
# Runs as root. Installs slapd ldap-utils nslcd libnss-ldapd libpam-ldapd if missing (noninteractive,
# preseeded so that nothing is configured). Every system file it touches (/etc/nslcd.conf,
# /etc/nsswitch.conf, /etc/pam.d/consolegate-ldap-test, /etc/pam.d/common-* via pam-auth-update) is put
# back by an EXIT trap, also on failure, and the last check verifies that common-* and nsswitch.conf are
# byte-identical to what they were before. Last line: "N passed, M failed"; exit status non-zero on failure.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PAM_SRC="$ROOT/pam/consolegate-ldap"
SERVICE=consolegate-ldap-test
PAM_DST="/etc/pam.d/$SERVICE"
BIN="${CONSOLEGATE_BIN:-$ROOT/.build/debug/consolegate}"
USE_PAMTESTER="${LDAP_TEST_WITH_PAMTESTER:-0}"
PACKAGES=(slapd ldap-utils nslcd libnss-ldapd libpam-ldapd)

SUFFIX="dc=consolegate,dc=test"
USER_PASSWORD='Ldap-Alice-pw-7'

source "$ROOT/Tests/lib/system_test.sh"

if [[ $EUID -ne 0 ]]; then
    echo "ldap_test.sh must run as root (it edits /etc/nslcd.conf, /etc/nsswitch.conf, /etc/pam.d)"
    echo "0 passed, 1 failed"
    exit 1
fi

WORK=$(mktemp -d /tmp/consolegate-ldap-test.XXXXXX)
chmod 0755 "$WORK"
SNAP="$WORK/before"
mkdir -p "$SNAP/pam.d"
SLAPD_PID="" NSLCD_PID=""
TOUCHED_NSLCD_CONF=0 TOUCHED_NSSWITCH=0 TOUCHED_PAM=0 CREATED_RUN_NSLCD=0

# ---------------------------------------------------------------- snapshot of everything we may touch
cp -p /etc/nsswitch.conf "$SNAP/nsswitch.conf"
for f in /etc/pam.d/common-*; do cp -p "$f" "$SNAP/pam.d/"; done
COMMON_HAD_LDAP=0
grep -qs pam_ldap /etc/pam.d/common-* && COMMON_HAD_LDAP=1
PAM_DST_EXISTED=0
[[ -e "$PAM_DST" ]] && { PAM_DST_EXISTED=1; cp -p "$PAM_DST" "$SNAP/pam-service"; }
[[ -d /run/nslcd ]] || CREATED_RUN_NSLCD=1
PREEXISTING_DAEMONS=" $(pgrep -d ' ' -x 'slapd|nslcd') "

finish() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    log "cleanup"
    if ((TOUCHED_PAM)); then
        if ((PAM_DST_EXISTED)); then cp -p "$SNAP/pam-service" "$PAM_DST"; else rm -f "$PAM_DST"; fi
    fi
    ((TOUCHED_NSSWITCH)) && cp -p "$SNAP/nsswitch.conf" /etc/nsswitch.conf
    stop_pid "$NSLCD_PID"
    stop_pid "$SLAPD_PID"
    if ((TOUCHED_NSLCD_CONF)); then
        if [[ -e "$SNAP/nslcd.conf" ]]; then cp -p "$SNAP/nslcd.conf" /etc/nslcd.conf; else rm -f /etc/nslcd.conf; fi
    fi
    # Installing libpam-ldapd enables its pam-auth-update profile in /etc/pam.d/common-*: take it out again.
    if ((!COMMON_HAD_LDAP)) && grep -qs pam_ldap /etc/pam.d/common-*; then
        echo "pam_ldap was added to /etc/pam.d/common-* (libpam-ldapd install): pam-auth-update --disable ldap"
        DEBIAN_FRONTEND=noninteractive pam-auth-update --disable ldap
    fi
    if ((CREATED_RUN_NSLCD)); then rm -rf /run/nslcd; fi
    nscd_flush

    local diffs
    diffs=$(diff -u "$SNAP/nsswitch.conf" /etc/nsswitch.conf 2>&1
            for f in "$SNAP"/pam.d/common-*; do diff -u "$f" "/etc/pam.d/${f##*/}" 2>&1; done
            for f in /etc/pam.d/common-*; do [[ -e "$SNAP/pam.d/${f##*/}" ]] || echo "new file: $f"; done
            if ((!PAM_DST_EXISTED)) && [[ -e "$PAM_DST" ]]; then echo "left behind: $PAM_DST"; fi)
    if [[ -z "$diffs" ]]; then
        pass "system files restored (/etc/nsswitch.conf, /etc/pam.d/common-*, $PAM_DST)"
    else
        fail "system files differ from before the test" "$diffs"
    fi
    rm -rf "$WORK"
    report_and_exit "$status"
}
trap_finish

# ---------------------------------------------------------------- packages
find_missing_packages "${PACKAGES[@]}"
if ((${#missing[@]})); then
    # Nothing gets configured by the packages: no slapd database, nsswitch.conf left alone. nslcd still
    # writes a default /etc/nslcd.conf (it is put back at the end like any other one).
    debconf-set-selections <<'EOF'
slapd slapd/no_configuration boolean true
libnss-ldapd libnss-ldapd/nsswitch multiselect
nslcd nslcd/ldap-uris string ldap://127.0.0.1/
nslcd nslcd/ldap-base string dc=consolegate,dc=test
EOF
    install_missing_packages
    # Packages must not leave the system services running (policy-rc.d normally prevents it).
    for pid in $(pgrep -x 'slapd|nslcd'); do
        [[ "$PREEXISTING_DAEMONS" == *" $pid "* ]] || { echo "stopping $(ps -o comm= -p "$pid") ($pid) started by the package install"; stop_pid "$pid"; }
    done
fi
for tool in slapd slappasswd ldapadd ldapsearch nslcd getent; do
    command -v "$tool" >/dev/null || abort "$tool not found after installing ${PACKAGES[*]}"
done
[[ -e /lib/$(gcc -print-multiarch)/security/pam_ldap.so || -n "$(find /lib /usr/lib -name pam_ldap.so -print -quit 2>/dev/null)" ]] \
    || abort "pam_ldap.so not found"
if [[ -e /run/nslcd/nslcd.pid ]] && kill -0 "$(cat /run/nslcd/nslcd.pid 2>/dev/null)" 2>/dev/null; then
    abort "a system nslcd is already running (/run/nslcd/nslcd.pid): refusing to replace its configuration"
fi

# ---------------------------------------------------------------- how an authentication attempt is made
if [[ "$USE_PAMTESTER" == 1 ]]; then
    command -v pamtester >/dev/null || abort "LDAP_TEST_WITH_PAMTESTER=1 but pamtester is not installed (apt-get install pamtester)"
    log "authenticating with pamtester (authenticate + acct_mgmt)"
else
    [[ -x "$BIN" ]] || abort "consolegate binary not found at $BIN (set CONSOLEGATE_BIN, or LDAP_TEST_WITH_PAMTESTER=1)"
    log "authenticating with $BIN"
fi

# auth_check NAME EXPECTED_EXIT USER PASSWORD
auth_check() {
    local name=$1 expected=$2 user=$3 password=$4 out rc
    if [[ "$USE_PAMTESTER" == 1 ]]; then
        out=$(printf '%s\n' "$password" | timeout 20 pamtester "$SERVICE" "$user" authenticate acct_mgmt 2>&1)
    else
        out=$(printf '%s\n' "$password" | timeout 20 "$BIN" authenticate --service "$SERVICE" --user "$user" \
            --password-stdin --timeout 10 --verbose 2>&1)
    fi
    rc=$?
    if [[ $rc -eq $expected ]]; then pass "$name (exit $rc)"; else fail "$name: exit $rc, expected $expected" "$out"; fi
}

# ---------------------------------------------------------------- slapd
log "starting slapd"
mkdir -p "$WORK/db"
ROOT_PW=$(head -c 18 /dev/urandom | base64)
ROOT_HASH=$(slappasswd -s "$ROOT_PW")
USER_HASH=$(slappasswd -s "$USER_PASSWORD")
cat >"$WORK/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile  $WORK/slapd.pid
argsfile $WORK/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb

database mdb
maxsize  16777216
suffix   "$SUFFIX"
rootdn   "cn=admin,$SUFFIX"
rootpw   $ROOT_HASH
directory $WORK/db
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
EOF

source "$ROOT/scripts/lib/ports.sh"
for _ in 1 2 3 4 5; do
    PORT=$(free_port)
    URI="ldap://127.0.0.1:$PORT/"
    # -d 0: stay in the foreground (no debug output), so that $! is slapd itself.
    slapd -d 0 -f "$WORK/slapd.conf" -h "$URI" >"$WORK/slapd.log" 2>&1 &
    SLAPD_PID=$!
    ready=0
    for ((i = 0; i < 100; i++)); do # <= 10 s
        kill -0 "$SLAPD_PID" 2>/dev/null || break
        if ldapsearch -x -LLL -H "$URI" -b "" -s base namingContexts >/dev/null 2>&1; then ready=1; break; fi
        sleep 0.1
    done
    ((ready)) && break
    stop_pid "$SLAPD_PID"; SLAPD_PID=""
done
((ready)) || abort "slapd did not come up" "$(tail -20 "$WORK/slapd.log")"
pass "slapd answers on $URI"

cat >"$WORK/base.ldif" <<EOF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: consolegate
o: ConsoleGate LDAP test

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: uid=ldapalice,ou=people,$SUFFIX
objectClass: inetOrgPerson
objectClass: posixAccount
uid: ldapalice
cn: LDAP Alice
sn: Alice
uidNumber: 20001
gidNumber: 20001
homeDirectory: /nonexistent
loginShell: /bin/bash
userPassword: $USER_HASH

dn: uid=ldapsystem,ou=people,$SUFFIX
objectClass: inetOrgPerson
objectClass: posixAccount
uid: ldapsystem
cn: LDAP system account below minimum_uid
sn: System
uidNumber: 999
gidNumber: 20001
homeDirectory: /nonexistent
loginShell: /bin/bash
userPassword: $USER_HASH

dn: uid=ldapexpired,ou=people,$SUFFIX
objectClass: inetOrgPerson
objectClass: posixAccount
objectClass: shadowAccount
uid: ldapexpired
cn: LDAP account expired in 1970
sn: Expired
uidNumber: 20003
gidNumber: 20001
homeDirectory: /nonexistent
loginShell: /bin/bash
shadowExpire: 1
userPassword: $USER_HASH

dn: cn=ldapstaff,ou=groups,$SUFFIX
objectClass: posixGroup
cn: ldapstaff
gidNumber: 20001
memberUid: ldapalice
EOF
out=$(ldapadd -x -H "$URI" -D "cn=admin,$SUFFIX" -w "$ROOT_PW" -f "$WORK/base.ldif" 2>&1) \
    || abort "loading the directory" "$out"
pass "directory loaded (base, people, groups, ldapalice, ldapstaff)"

# ---------------------------------------------------------------- nslcd + nsswitch
log "starting nslcd"
if [[ -e /etc/nslcd.conf ]]; then cp -p /etc/nslcd.conf "$SNAP/nslcd.conf"; fi
TOUCHED_NSLCD_CONF=1
(
    umask 077
    cat >/etc/nslcd.conf.consolegate-test <<EOF
# Written by ConsoleGate's Tests/PAM/ldap_test.sh; the previous file is restored when the test ends.
uid nslcd
gid nslcd
uri $URI
base $SUFFIX
bind_timelimit 3
timelimit 5
reconnect_sleeptime 1
reconnect_retrytime 1
EOF
)
chown root:nslcd /etc/nslcd.conf.consolegate-test
chmod 0640 /etc/nslcd.conf.consolegate-test
mv -f /etc/nslcd.conf.consolegate-test /etc/nslcd.conf

TOUCHED_NSSWITCH=1
sed -i -E '/^(passwd|group):/{/[[:space:]]ldap([[:space:]]|$)/!s/[[:space:]]*$/ ldap/}' /etc/nsswitch.conf
nscd_flush

mkdir -p /run/nslcd
chown nslcd:nslcd /run/nslcd
nslcd -d >"$WORK/nslcd.log" 2>&1 &
NSLCD_PID=$!
ready=0
for ((i = 0; i < 100; i++)); do # <= 10 s
    kill -0 "$NSLCD_PID" 2>/dev/null || break
    if getent passwd ldapalice >/dev/null; then ready=1; break; fi
    sleep 0.1
done
((ready)) || abort "getent passwd ldapalice through nslcd" "$(tail -20 "$WORK/nslcd.log")"

entry=$(getent passwd ldapalice)
if [[ "$entry" == "ldapalice:*:20001:20001:LDAP Alice:/nonexistent:/bin/bash" ]]; then
    pass "getent passwd ldapalice: $entry"
else
    fail "getent passwd ldapalice gave '$entry'"
fi
group=$(getent group ldapstaff)
if [[ "$group" =~ ^ldapstaff:[^:]*:20001:(.*,)?ldapalice(,.*)?$ ]]; then
    pass "getent group ldapstaff lists ldapalice: $group"
else
    fail "getent group ldapstaff gave '$group'"
fi
groups=$(id -nG ldapalice 2>&1)
if [[ " $groups " == *" ldapstaff "* ]]; then pass "id -nG ldapalice: $groups"; else fail "id -nG ldapalice gave '$groups'"; fi

# ---------------------------------------------------------------- PAM
TOUCHED_PAM=1
install -m 0644 -o root -g root "$PAM_SRC" "$PAM_DST"

log "authentication through /etc/pam.d/$SERVICE"
auth_check "ldapalice, right password"                 0 ldapalice "$USER_PASSWORD"
auth_check "ldapalice, wrong password"                 1 ldapalice "not-$USER_PASSWORD"
auth_check "ldapalice, empty password"                 1 ldapalice ""
# nslcd matches uid case-insensitively at authentication and pam_ldap then rewrites PAM_USER to the
# directory's spelling ("username changed from LDAPALICE to ldapalice" in nslcd's log): the PAM stack itself
# says yes. ConsoleGate refuses any transaction whose PAM_USER changed; pamtester does not look.
if [[ "$USE_PAMTESTER" == 1 ]]; then
    auth_check "LDAPALICE (other case): stack accepts, PAM_USER rewritten" 0 LDAPALICE "$USER_PASSWORD"
else
    auth_check "LDAPALICE (other case): refused, PAM_USER was rewritten" 1 LDAPALICE "$USER_PASSWORD"
fi
auth_check "unknown user"                              1 ldapnobody "$USER_PASSWORD"
auth_check "local root is not an LDAP user"            1 root "$USER_PASSWORD"
auth_check "LDAP user below minimum_uid=1000"          1 ldapsystem "$USER_PASSWORD"
auth_check "expired LDAP account (shadowExpire)"       1 ldapexpired "$USER_PASSWORD"

log "LDAP server down"
stop_pid "$SLAPD_PID"; SLAPD_PID=""
auth_check "ldapalice, right password, slapd stopped"  1 ldapalice "$USER_PASSWORD"
