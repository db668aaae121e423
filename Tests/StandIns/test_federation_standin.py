"""Checks federation_standin.py against a real moto_server.

    python3 -m pytest Tests/StandIns/test_federation_standin.py

Starts moto_server and two stand-ins (one with a 1 s token lifetime) on free ports for the module, and stops
them whatever happens. The tests share the stand-ins; the last one stops the main stand-in with SIGTERM.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from types import SimpleNamespace
from urllib.parse import urlencode

import botocore.session
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "federation_standin.py")
DEST = "https://console.aws.amazon.com/ec2/home?region=us-east-1"
START_TIMEOUT = 10.0


# --- process helpers -------------------------------------------------------

def reported_port(log_path: str) -> int | None:
    """The port moto_server chose for `-p 0`, once its " * Running on http://127.0.0.1:PORT" line is out."""
    with open(log_path) as log:
        match = re.search(r"Running on http://127\.0\.0\.1:(\d+)", log.read())
    return int(match.group(1)) if match else None


def wait_for(predicate, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with {proc.returncode}")
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def moto_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/moto-api/", timeout=1):
            return True
    except OSError:
        return False


def start_standin(workdir: str, moto_url: str, name: str, *extra: str):
    port_file = os.path.join(workdir, f"{name}.port")
    log = open(os.path.join(workdir, f"{name}.stderr"), "w")
    proc = subprocess.Popen(
        [sys.executable, STANDIN, "--port", "0", "--moto-url", moto_url,
         "--port-file", port_file, *extra],
        stdout=subprocess.PIPE, stderr=log, text=True,
    )
    log.close()
    wait_for(lambda: os.path.exists(port_file), f"stand-in {name} port file", proc)
    with open(port_file) as f:
        content = f.read()
    assert content.endswith("\n") and content.strip().isdigit(), repr(content)
    return proc, int(content), port_file


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- HTTP / AWS helpers ----------------------------------------------------

class Standin:
    def __init__(self, port: int):
        self.port = port

    def request(self, method: str, path: str, params: dict | None = None,
                form: dict | None = None):
        """Returns (status, headers, body); never follows redirects."""
        if params:
            path = f"{path}?{urlencode(params)}"
        body, headers = None, {}
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read().decode()
        finally:
            conn.close()

    def get_token(self, creds: dict | None, duration=None, post: bool = False,
                  session: str | None = None):
        params = {"Action": "getSigninToken"}
        params["Session"] = session if session is not None else json.dumps(creds)
        if duration is not None:
            params["SessionDuration"] = str(duration)
        if post:
            return self.request("POST", "/federation", form=params)
        return self.request("GET", "/federation", params=params)

    def login(self, token: str, destination: str | None = DEST):
        params = {"Action": "login", "Issuer": "https://consolegate.example", "SigninToken": token}
        if destination is not None:
            params["Destination"] = destination
        return self.request("GET", "/federation", params=params)


def session_of(c: dict) -> dict:
    return {"sessionId": c["AccessKeyId"], "sessionKey": c["SecretAccessKey"],
            "sessionToken": c["SessionToken"]}


def assert_bare_400(resp) -> None:
    status, headers, body = resp
    assert status == 400, f"expected 400, got {status}: {body[:200]}"
    assert headers.get_content_type() == "text/html", headers.get("Content-Type")
    assert body.startswith("<html>") and len(body) < 200, body


def token_from(resp) -> str:
    status, headers, body = resp
    assert status == 200, f"expected 200, got {status}: {body[:200]}"
    assert headers.get_content_type() == "application/json", headers.get("Content-Type")
    token = json.loads(body)["SigninToken"]
    assert len(token) >= 64 and all(c.isalnum() or c in "-_" for c in token), token
    return token


def make_aws_fixtures(moto_url: str) -> dict:
    session = botocore.session.get_session()
    kw = dict(endpoint_url=moto_url, region_name="us-east-1",
              aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
    iam, sts = session.create_client("iam", **kw), session.create_client("sts", **kw)
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName="ConsoleRole",
                               AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName="alice")
    fed = sts.get_federation_token(Name="bob")
    plain = sts.get_session_token()
    return {
        "role": session_of(assumed["Credentials"]),
        "role_arn": assumed["AssumedRoleUser"]["Arn"],
        "fed": session_of(fed["Credentials"]),
        "fed_arn": fed["FederatedUser"]["Arn"],
        "plain": session_of(plain["Credentials"]),
    }


# --- the stand-ins for the module ------------------------------------------

@pytest.fixture(scope="module")
def servers():
    """moto_server, the main stand-in and a short one (--token-ttl 1), the AWS credentials to sign in with, and the
    sign-in tokens the tests used (which the log must not show)."""
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="federation-standin-") as workdir:
        try:
            # Port 0: the kernel picks it as moto binds, so nothing else can take it in between.
            moto_log_path = os.path.join(workdir, "moto.log")
            moto_log = open(moto_log_path, "w")
            procs.append(subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", "0"],
                                          stdout=moto_log, stderr=subprocess.STDOUT))
            moto_log.close()
            wait_for(lambda: reported_port(moto_log_path) is not None, "moto_server's port", procs[-1])
            moto_url = f"http://127.0.0.1:{reported_port(moto_log_path)}"
            wait_for(lambda: moto_ready(moto_url), "moto_server", procs[-1])

            main_proc, port, port_file = start_standin(workdir, moto_url, "main")
            procs.append(main_proc)
            short_proc, short_port, _ = start_standin(workdir, moto_url, "short", "--token-ttl", "1")
            procs.append(short_proc)

            line = main_proc.stdout.readline()
            assert line == f"listening on {port}\n", repr(line)

            yield SimpleNamespace(si=Standin(port), short=Standin(short_port), aws=make_aws_fixtures(moto_url),
                                  secrets=[], main_proc=main_proc, port_file=port_file,
                                  log_path=os.path.join(workdir, "main.stderr"))
        finally:
            for proc in reversed(procs):
                stop(proc)


@pytest.fixture
def si(servers) -> Standin:
    return servers.si


@pytest.fixture
def aws(servers) -> dict:
    return servers.aws


# --- the checks ------------------------------------------------------------

def test_role_token_get_and_login(si, aws, servers):
    token = token_from(si.get_token(aws["role"]))
    status, headers, _ = si.login(token)
    assert status == 302, status
    assert headers["Location"] == DEST, headers["Location"]
    assert headers["X-Standin-Principal"] == aws["role_arn"], headers["X-Standin-Principal"]
    assert headers["X-Standin-Session-Duration"] == "default"
    servers.secrets.append(token)
    # One-time: the same token must not work twice.
    assert_bare_400(si.login(token))


def test_role_token_post_form(si, aws, servers):
    token = token_from(si.get_token(aws["role"], post=True, duration=3600))
    status, headers, _ = si.login(token)
    assert status == 302, status
    assert headers["X-Standin-Session-Duration"] == "3600"
    servers.secrets.append(token)


def test_session_duration_bounds(si, aws):
    for bad in (899, 43201, "abc", "+900", ""):
        assert_bare_400(si.get_token(aws["role"], duration=bad))
    for good in (900, 43200):
        token_from(si.get_token(aws["role"], duration=good))


def test_long_term_keys_refused(si):
    no_token = {"sessionId": "AKIDTEST", "sessionKey": "secret"}
    assert_bare_400(si.get_token(no_token))
    assert_bare_400(si.get_token(dict(no_token, sessionToken="")))


def test_malformed_session_refused(si):
    assert_bare_400(si.get_token(None, session="{not json"))
    assert_bare_400(si.get_token(None, session='["a", "b", "c"]'))
    assert_bare_400(si.request("GET", "/federation", params={"Action": "getSigninToken"}))


def test_federation_token_creds(si, aws):
    assert_bare_400(si.get_token(aws["fed"], duration=3600))
    token = token_from(si.get_token(aws["fed"]))
    status, headers, _ = si.login(token)
    assert status == 302, status
    assert headers["X-Standin-Principal"] == aws["fed_arn"], headers["X-Standin-Principal"]


def test_session_token_creds_refused(si, aws):
    # AWS does not let GetSessionToken credentials sign in to the console.
    assert_bare_400(si.get_token(aws["plain"]))


def test_unknown_credentials_refused(si):
    # moto answers GetCallerIdentity for any keys (user/moto); still refused.
    assert_bare_400(si.get_token({"sessionId": "ASIAFAKE", "sessionKey": "x",
                                  "sessionToken": "made-up"}))


def test_login_refusals(si, aws):
    assert_bare_400(si.login("no-such-token"))
    token = token_from(si.get_token(aws["role"]))
    assert_bare_400(si.login(token, destination=None))
    assert_bare_400(si.login(token, destination="http://console.aws.amazon.com/"))
    assert_bare_400(si.login(token, destination="/relative/path"))
    # A refused destination does not burn the token.
    assert si.login(token)[0] == 302


def test_other_actions_and_paths(si, aws):
    assert_bare_400(si.request("GET", "/federation", params={"Action": "logout"}))
    assert_bare_400(si.request("GET", "/federation"))
    assert_bare_400(si.request("GET", "/other", params={"Action": "getSigninToken"}))
    token = token_from(si.get_token(aws["role"]))
    assert_bare_400(si.request("POST", "/federation", form={
        "Action": "login", "SigninToken": token, "Destination": DEST}))


def test_fail_next_injects_503s(si, aws):
    status, _, _ = si.request("POST", "/standin/fail-next", form={"count": "2", "status": "503"})
    assert status == 204, status
    for _ in range(2):
        status, headers, body = si.get_token(aws["role"])
        assert status == 503, status
        assert headers.get_content_type() == "text/html" and "503" in body, body
    token_from(si.get_token(aws["role"]))


def test_token_expires(servers, aws):
    token = token_from(servers.short.get_token(aws["role"]))
    time.sleep(1.3)  # the token's lifetime (--token-ttl 1) and a margin: a measured window, not a wait for an event
    assert_bare_400(servers.short.login(token))


def test_sigterm_exit_and_quiet_log(si, aws, servers):
    """Last: a clean exit on SIGTERM, the port file removed, and no secrets in the log."""
    # A sign-in of its own, so that the log has one to show whatever ran before.
    token = token_from(si.get_token(aws["role"]))
    assert si.login(token)[0] == 302
    servers.secrets.append(token)
    servers.main_proc.send_signal(signal.SIGTERM)
    rc = servers.main_proc.wait(timeout=5)
    assert rc == 0, f"exit code {rc}"
    assert not os.path.exists(servers.port_file), "port file left behind"
    with open(servers.log_path) as f:
        log = f.read()
    assert "GET /federation action=getSigninToken status=200" in log, log[:500]
    leaks = [aws["role"]["sessionKey"], aws["role"]["sessionToken"],
             aws["fed"]["sessionToken"], "Session=", *servers.secrets]
    found = [s[:12] for s in leaks if s in log]
    assert not found, f"log leaks {found}"
