#!/usr/bin/env bash
# Installs the system and Python packages ConsoleGate's build, demo and tests need on Debian 12.
# Needs root (CI, or `sudo scripts/install-deps.sh`); does nothing when everything is present.
set -euo pipefail

APT_PACKAGES=(
    pkg-config curl gcc libssl-dev libpam0g-dev       # build (gcc -print-multiarch finds the PAM modules)
    libpam-wrapper libnss-wrapper pamtester            # PAM without touching /etc (tests, demo)
    libpam-oath oathtool                               # one-time codes
    openssl                                            # a throwaway certificate for the TLS test
    chromium chromium-driver                           # the login page in a headless browser (Tests/Web)
    postgresql haproxy                                 # shared state of replicas, and a balancer in front (Tests/HA)
)
PYTHON_PACKAGES=('moto[server]' boto3 botocore selenium prometheus_client pexpect awscli pytest schemathesis)

missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi
if ! python3 -c 'import moto.server, boto3, botocore, selenium, prometheus_client, pexpect, pytest, schemathesis' 2>/dev/null \
        || ! command -v moto_server >/dev/null || ! command -v aws >/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}"
fi
# `consolegate serve` started as root gives up root for this account (service_user), as the package's does.
if [ "$(id -u)" = 0 ] && ! getent passwd consolegate >/dev/null; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin consolegate
fi
