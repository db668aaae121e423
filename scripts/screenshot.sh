#!/usr/bin/env bash
# Regenerates docs/login-page.png: the web login page of a `consolegate serve` (password and one-time code) against
# the local stand-ins, in headless Chromium at 900x700. Needs the built binary (swift build; or CONSOLEGATE_BIN)
# and what scripts/install-deps.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONSOLEGATE_BIN="${CONSOLEGATE_BIN:-$PWD/.build/debug/consolegate}"
[ -x "$CONSOLEGATE_BIN" ] || { echo "screenshot: no binary at $CONSOLEGATE_BIN; run swift build first" >&2; exit 2; }
scripts/install-deps.sh
source scripts/lib/standins.sh

trap stop_standins EXIT
start_standins

python3 - "$PWD/docs/login-page.png" <<'PYTHON'
import os, sys, time
sys.path.insert(0, "Tests/Web")
from gateway_fixture import Browser, Gateway, Rule, User, role

out = sys.argv[1]
with Gateway([User("alice", "unused", groups=["staff"])], [Rule(role("ConsoleReadOnly"), groups=["staff"])],
             secrets=("password", "otp")) as gateway, Browser(900, 700) as browser:
    browser.driver.get(gateway.url + "/")
    # No focus ring or caret in the picture: wait (bounded) for autofocus to land, then take the focus away.
    deadline = time.monotonic() + 5
    while (browser.driver.execute_script("return document.querySelector('[autofocus]') !== null"
                                         " && document.activeElement === document.body;")
           and time.monotonic() < deadline):
        time.sleep(0.05)
    browser.driver.execute_script("document.activeElement && document.activeElement.blur()")
    browser.screenshot(out[:-4] + ".tmp.png")
os.replace(out[:-4] + ".tmp.png", out)
print(f"wrote {out} ({os.path.getsize(out)} bytes)")
PYTHON
