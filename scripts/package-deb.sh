#!/usr/bin/env bash
# Builds consolegate_<version>_<arch>.deb with Debian's own tools (dpkg-deb, lintian): a release build with the
# Swift standard library and Foundation linked in statically, so the package runs on a Debian 12 without a
# Swift toolchain. Usage: scripts/package-deb.sh [OUTPUT_DIR] (default: the repository root). Needs root only
# for lintian's installation (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
OUT=$(realpath "${1:-.}")
BUILD=.build-deb

source scripts/lib/release-build.sh

echo "== release build (static Swift stdlib, packed relocations)"
BIN=$(release_build "$BUILD" consolegate consolegate-pam generate-manual)
VERSION=$("$BIN/consolegate" --version)
ARCH=$(dpkg --print-architecture)
PACKAGE="consolegate_${VERSION}_${ARCH}"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
ROOT="$STAGE/$PACKAGE"
DOC="$ROOT/usr/share/doc/consolegate"

echo "== staging $PACKAGE"
install -D -m 0755 -s "$BIN/consolegate" "$ROOT/usr/bin/consolegate"
# The PAM monitor is started by the daemon, not by people: /usr/libexec, where the daemon looks for it.
install -D -m 0755 -s "$BIN/consolegate-pam" "$ROOT/usr/libexec/consolegate/consolegate-pam"
install -d -m 0755 "$ROOT/lib/systemd/system"
sed 's#/usr/local/bin/consolegate#/usr/bin/consolegate#g' deploy/consolegate.service >"$ROOT/lib/systemd/system/consolegate.service"
chmod 0644 "$ROOT/lib/systemd/system/consolegate.service"
for service in consolegate consolegate-ldap consolegate-otp consolegate-stepup; do
    install -D -m 0644 "pam/$service" "$ROOT/etc/pam.d/$service"
done
install -d -m 0750 "$ROOT/etc/consolegate"
install -m 0640 deploy/config.yaml "$ROOT/etc/consolegate/config.yaml"

install -D -m 0644 README.md "$DOC/README.md"
install -D -m 0644 docs/deployment.md "$DOC/deployment.md"
install -D -m 0644 docs/high-availability.md "$DOC/high-availability.md"
sed 's#/usr/local/bin/consolegate#/usr/bin/consolegate#g' deploy/sshd_config.d/consolegate.conf | install -D -m 0644 /dev/stdin "$DOC/examples/sshd_config.d/consolegate.conf"
install -D -m 0644 pam/consolegate.rhel "$DOC/examples/pam.d/consolegate.rhel"
gzip -9n "$DOC/README.md" "$DOC/deployment.md"
cat >"$DOC/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: consolegate

Files: *
Copyright: $(date -u +%Y) The ConsoleGate authors
License: ConsoleGate
 All rights reserved by the ConsoleGate authors. The project has not chosen a public
 licence yet; this package is for the organisation's own hosts.
EOF
printf 'consolegate (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- ConsoleGate <consolegate@example.org>  %s\n' \
    "$VERSION" "$VERSION" "$(date -u -R)" | gzip -9n >"$DOC/changelog.gz"

# One manual page per subcommand (`man consolegate-serve`), from the command definitions themselves.
MAN="$ROOT/usr/share/man/man1"
install -d "$MAN" "$STAGE/man"
"$BIN/generate-manual" "$BIN/consolegate" --multi-page --authors "ConsoleGate<consolegate@example.org>" --output-directory "$STAGE/man"
gzip -9nc "$STAGE/man/consolegate.1" >"$MAN/consolegate.1.gz"
for page in "$STAGE"/man/consolegate.*.1; do
    sub=$(basename "$page" .1)
    sub=${sub#consolegate.}
    [ "$sub" = help ] && continue # `consolegate help` is ArgumentParser's, not ours
    # Named consolegate-SUB for man and whatis; the synopsis still reads `consolegate SUB`.
    sed -e "s/^\.Dt CONSOLEGATE\.\([A-Z-]*\) 1/.Dt CONSOLEGATE-\1 1/" -e "s/^\.Nm \"consolegate $sub\"\$/.Nm consolegate-$sub/" \
        -e "s/^\.Nm\$/.Nm consolegate\n.Cm $sub/" "$page" | gzip -9n >"$MAN/consolegate-$sub.1.gz"
done
install -d "$ROOT/usr/share/bash-completion/completions" "$ROOT/usr/share/zsh/vendor-completions" "$ROOT/usr/share/fish/vendor_completions.d"
"$BIN/consolegate" --generate-completion-script bash | sed '1{/^#!/d}' >"$ROOT/usr/share/bash-completion/completions/consolegate"
"$BIN/consolegate" --generate-completion-script zsh >"$ROOT/usr/share/zsh/vendor-completions/_consolegate"
"$BIN/consolegate" --generate-completion-script fish >"$ROOT/usr/share/fish/vendor_completions.d/consolegate.fish"
install -D -m 0644 deploy/debian/lintian-overrides "$ROOT/usr/share/lintian/overrides/consolegate"

install -d -m 0755 "$ROOT/DEBIAN"
install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$ROOT/DEBIAN/"
find "$ROOT/etc" -type f -printf '/etc/%P\n' | sort >"$ROOT/DEBIAN/conffiles"
# Dependencies: the package of each shared library the two binaries load; libc6 at least as new as the newest
# glibc symbol version they use, and 2.36 for packed relocations (GLIBC_ABI_DT_RELR).
BINARIES=("$ROOT/usr/bin/consolegate" "$ROOT/usr/libexec/consolegate/consolegate-pam")
GLIBC=$(objdump -p "${BINARIES[@]}" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n1)
if objdump -p "${BINARIES[@]}" | grep -q GLIBC_ABI_DT_RELR; then
    GLIBC=$(printf '%s\n2.36\n' "$GLIBC" | sort -V | tail -n1)
fi
DEPENDS=$(for binary in "${BINARIES[@]}"; do
              objdump -p "$binary" | awk '/NEEDED/ {print $2}'
          done | sort -u | xargs -I{} sh -c 'dpkg -S "*/{}" 2>/dev/null | head -n1 | cut -d: -f1' | sort -u \
          | sed "s/^libc6\$/libc6 (>= $GLIBC)/" | paste -sd, | sed 's/,/, /g')
cat >"$ROOT/DEBIAN/control" <<EOF
Package: consolegate
Version: $VERSION
Architecture: $ARCH
Maintainer: ConsoleGate <consolegate@example.org>
Installed-Size: $(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
Depends: $DEPENDS, adduser
Recommends: libpam-modules
Suggests: libpam-oath, libpam-ldapd, openssh-server
Section: admin
Priority: optional
Homepage: https://github.com/consolegate/consolegate
Description: AWS Management Console sign-in for Linux and LDAP logins
 ConsoleGate turns "this user may take this role" into a one-time AWS console
 sign-in URL. Users authenticate against the host's PAM stack (pam_unix,
 pam_ldap/sssd, one-time codes), access rules map users and groups to IAM
 roles, and the gateway mints temporary credentials through a Cognito identity
 pool, STS AssumeRole or GetFederationToken.
 .
 Front ends: a web login page, a JSON API, a Unix socket whose client is an
 SSH ForceCommand, and the AWS CLI's credential_process. The daemon gives up
 root once started; PAM runs in a small root monitor of its own.
EOF
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$ROOT/DEBIAN/md5sums"

dpkg-deb --root-owner-group --build "$ROOT" "$OUT/$PACKAGE.deb" >/dev/null
echo "== built $OUT/$PACKAGE.deb ($(du -h "$OUT/$PACKAGE.deb" | cut -f1))"
