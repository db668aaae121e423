#!/usr/bin/env python3
"""`consolegate login` against a real `consolegate serve`, through a pseudo-terminal; the real AWS CLI using it as
a credential_process; and the /metrics counters.

Run through scripts/test.sh, or with the stand-ins started and CONSOLEGATE_BIN set:
    python3 Tests/Web/client_test.py
Ends with "N passed, M failed"; exit code 1 on any failure.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pexpect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gateway_fixture import (  # noqa: E402
    Gateway, Rule, User, assumed_role_arn, follow_signin_url, metric_families, metric_value, require_standins, role,
    run)

TIMEOUT = 60  # per expect: the AWS CLI starts in 1–3 s, a login takes well under a second


def base_environment(home: str) -> dict:
    """No AWS credentials, no wrappers, no CONSOLEGATE_SERVER: only what a user's shell would have."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "PAM_WRAPPER", "NSS_WRAPPER", "CONSOLEGATE_"))}
    env.pop("LD_PRELOAD", None)
    env.update({"HOME": home, "LANG": "C.UTF-8", "TERM": "dumb"})
    return env


class Terminal:
    """A command in a pseudo-terminal (its /dev/tty), with everything the terminal showed in `transcript`."""

    def __init__(self, command: str, args: list[str], env: dict):
        self.output = io.StringIO()
        self.child = pexpect.spawn(command, args, env=env, encoding="utf-8", codec_errors="replace",
                                   timeout=TIMEOUT, dimensions=(24, 250))
        self.child.logfile_read = self.output
        self.status: int | None = None

    def answer(self, prompt: str, text: str) -> None:
        self.child.expect_exact(prompt)
        self.child.sendline(text)

    def finish(self) -> int:
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else 128 + (self.child.signalstatus or 0)

    @property
    def transcript(self) -> str:
        return self.output.getvalue()

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)

    @classmethod
    def converse(cls, command: str, args: list[str], env: dict, answers: list[tuple[str, str]]) -> "Terminal":
        """Runs the command to its end, answering each prompt in turn; `status` holds its exit code."""
        term = cls(command, args, env)
        try:
            for prompt, text in answers:
                term.answer(prompt, text)
            term.status = term.finish()
        finally:
            term.close()
        return term


def url_lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip().startswith("http")]


def json_in(text: str):
    """The JSON object a command printed after its prompts."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError(f"no JSON in {text!r}")
    return json.loads(text[start:end + 1])


def check_signin_url(r, label: str, url: str, federation: str, principal: str) -> None:
    r.check(f"{label}: a sign-in URL of the federation stand-in", url.startswith(federation + "?Action=login")
            or (url.startswith(federation + "?") and "Action=login" in url), url[:120])
    status, headers = follow_signin_url(url)
    r.check(f"{label}: the URL signs in as {principal.rsplit(':', 1)[1]}",
            status == 302 and headers.get("X-Standin-Principal") == principal,
            f"{status} {headers.get('X-Standin-Principal')}")


def main(r) -> None:
    standins = require_standins()
    federation, moto = standins["federation_url"], standins["moto_url"]
    read_only, admin = role("ConsoleReadOnly"), role("ConsoleAdmin")
    alice = User("alice", "alice-cli-pw", groups=["staff"])
    bob = User("bob", "bob-cli-pw", groups=["staff"])
    carol = User("carol", "carol-cli-pw", groups=["staff", "aws-admins"])
    rules = [Rule(read_only, groups=["staff"]), Rule(admin, groups=["aws-admins"])]
    home = tempfile.mkdtemp(prefix="consolegate-client-")
    try:
        with Gateway([alice, bob], rules, secrets=("password", "otp")) as gw:
            binary = gw.binary

            with r.section("consolegate login in a terminal: password, then a one-time code"):
                code = gw.otp("alice")
                term = Terminal.converse(binary, ["login", "--server", gw.url, "--user", "alice"], base_environment(home),
                                         [("Password: ", alice.password), ("One-time code: ", code)])
                r.equal("login: exit code 0", term.status, 0)
                text = term.transcript
                r.check("login: the password is not echoed", alice.password not in text)
                r.check("login: the one-time code is not echoed", code not in text)
                urls = url_lines(text)
                r.equal("login: one URL line", len(urls), 1)
                if urls:
                    check_signin_url(r, "login", urls[0], federation, assumed_role_arn(read_only, "alice"))
                store = os.path.join(home, ".local", "state", "consolegate", "device-tokens.json")
                r.check("login: the device token is kept in ~/.local/state/consolegate/device-tokens.json, mode 0600",
                        os.path.exists(store) and os.stat(store).st_mode & 0o777 == 0o600, store)
                with open(store) as f:
                    r.check("login: ...under this server and user", f"{gw.url}|alice" in json.load(f))

            with r.section("consolegate login: server from CONSOLEGATE_SERVER, --format json"):
                code = gw.otp("bob")
                env = dict(base_environment(home), CONSOLEGATE_SERVER=gw.url)
                term = Terminal.converse(binary, ["login", "--user", "bob", "--format", "json"], env,
                                         [("Password: ", bob.password), ("One-time code: ", code)])
                r.equal("login --format json: exit code 0", term.status, 0)
                answer = json_in(term.transcript.split("One-time code:", 1)[-1])
                r.check("login --format json: url, expires_at, role_arn, session_name",
                        {"url", "expires_at", "role_arn", "session_name"} <= set(answer)
                        and answer["role_arn"] == read_only and answer["session_name"] == "bob", f"{answer}")
                r.check("login --format json: the password is not echoed", bob.password not in term.transcript)
                r.check("login --format json: the device token is kept, not printed", "device_token" not in answer, f"{answer}")

            with r.section("consolegate login: a wrong password"):
                term = Terminal.converse(binary, ["login", "--server", gw.url, "--user", "alice"], base_environment(home),
                                         [("Password: ", "not-" + alice.password), ("One-time code: ", "123456")])
                r.equal("wrong password: exit code 1 (authentication failed)", term.status, 1)
                r.check("wrong password: no URL", not url_lines(term.transcript), term.transcript[-300:])

            with r.section("the AWS CLI with consolegate login as its credential_process"):
                aws = shutil.which("aws")
                if not aws:
                    r.check("the aws command (PyPI awscli) is installed", False, "scripts/install-deps.sh installs it")
                else:
                    config = os.path.join(home, "aws-config")
                    with open(config, "w") as f:
                        f.write("[profile cg]\n"
                                f"credential_process = {shlex.quote(binary)} login --server {gw.url} --user alice"
                                " --format credential-process\n")
                    env = dict(base_environment(home), AWS_CONFIG_FILE=config, AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                               AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="")
                    code = gw.otp("alice")
                    # botocore pipes the process's stdout and stderr: the prompts must come on /dev/tty.
                    term = Terminal.converse(aws, ["sts", "get-caller-identity", "--profile", "cg", "--endpoint-url", moto,
                                                   "--region", "us-east-1", "--output", "json"], env,
                                             [("Password: ", alice.password), ("One-time code: ", code)])
                    r.equal("aws sts get-caller-identity: exit code 0", term.status, 0)
                    r.check("aws: the password is not echoed", alice.password not in term.transcript)
                    try:
                        identity = json_in(term.transcript.split("One-time code:", 1)[-1])
                    except ValueError as exc:
                        identity = {}
                        print(f"  aws said: {term.transcript[-600:]!r} ({exc})")
                    r.equal("aws: the caller is alice in her role", identity.get("Arn"),
                            assumed_role_arn(read_only, "alice"))

        with Gateway([alice, carol], rules, secrets=("password",)) as gw:
            binary = gw.binary

            with r.section("consolegate login against a password-only gateway, --role"):
                term = Terminal.converse(binary, ["login", "--server", gw.url, "--user", "carol", "--role", admin],
                                         base_environment(home), [("Password: ", carol.password)])
                r.equal("password only: exit code 0", term.status, 0)
                r.check("password only: no one-time code prompt", "One-time code" not in term.transcript,
                        term.transcript)
                r.check("password only: the password is not echoed", carol.password not in term.transcript)
                urls = url_lines(term.transcript)
                r.equal("password only: one URL line", len(urls), 1)
                if urls:
                    check_signin_url(r, "login --role", urls[0], federation, assumed_role_arn(admin, "carol"))

            with r.section("logout first: consolegate login --logout-first (user from $USER), the API's logout_first"):
                term = Terminal.converse(binary, ["login", "--server", gw.url, "--logout-first"],
                                         dict(base_environment(home), USER="alice", LOGNAME="alice"), [("Password: ", alice.password)])
                r.equal("login --logout-first: exit code 0", term.status, 0)
                urls = url_lines(term.transcript)
                status, answer = gw.api_login(username="alice", password=alice.password, logout_first="true")
                r.equal('API {"logout_first": "true"}: 200', status, 200)
                for label, url in (("login --logout-first", urls[0] if urls else ""),
                                   ("API logout_first", (answer or {}).get("url", ""))):
                    parts = urlsplit(url)
                    query = parse_qs(parts.query)
                    r.check(f"{label}: the URL is the sign-in host's /oauth?Action=logout with a redirect_uri",
                            url.startswith(urlunsplit(urlsplit(federation)._replace(path="/oauth", query="")) + "?")
                            and query.get("Action") == ["logout"] and len(query.get("redirect_uri", [])) == 1, url[:160])
                    target = (query.get("redirect_uri") or [""])[0]
                    check_signin_url(r, f"{label}: redirect_uri", target, federation,
                                     assumed_role_arn(read_only, "alice"))

            with r.section("/metrics"):
                status, _, _ = gw.http("GET", "/metrics")
                r.equal("GET /metrics on the login listener: 404 (metrics have a listener of their own)", status, 404)
                status, headers, body = gw.http("GET", "/metrics", port=gw.metrics_port)
                r.equal("GET /metrics on listen.metrics: 200", status, 200)
                r.check("GET /metrics: text/plain", (headers.get("Content-Type") or "").startswith("text/plain"),
                        headers.get("Content-Type"))

                def counts():
                    text = gw.metrics_text()
                    return text, {outcome: metric_value(text, "consolegate_logins_total", front_end="api", outcome=outcome)
                                  for outcome in ("success", "authentication_failed")}

                _, before = counts()
                status, _ = gw.api_login(username="alice", password=alice.password)
                r.equal("API login: 200", status, 200)
                _, after_success = counts()
                r.equal('consolegate_logins_total{front_end="api",outcome="success"} +1 after a login',
                        after_success["success"] - before["success"], 1)
                r.equal('...and outcome="authentication_failed" unchanged',
                        after_success["authentication_failed"] - before["authentication_failed"], 0)
                status, _ = gw.api_login(username="alice", password="not-" + alice.password)
                r.equal("API login with a wrong password: 401", status, 401)
                text, after_failure = counts()
                r.equal('consolegate_logins_total{front_end="api",outcome="authentication_failed"} +1 after a failure',
                        after_failure["authentication_failed"] - after_success["authentication_failed"], 1)
                r.equal('...and outcome="success" unchanged', after_failure["success"] - after_success["success"], 0)

                families = metric_families(text)
                types = {name: kind for name, (kind, _) in families.items()}

                def family(prefix):
                    return next((name for name in families if name == prefix or name + "_total" == prefix), None)

                logins = family("consolegate_logins_total")
                r.check("consolegate_logins_total is a counter", logins is not None and types[logins] == "counter",
                        f"{logins}: {types.get(logins)}")
                for name in ("consolegate_upstream_request_duration_seconds", "consolegate_pam_helper_duration_seconds"):
                    kind = types.get(name)
                    observed = [s for s in families.get(name, (None, []))[1] if s.name == name + "_count"]
                    r.check(f"{name}: a histogram or summary with observations",
                            kind in ("histogram", "summary") and sum(s.value for s in observed) > 0,
                            f"type {kind}, counts {[(s.labels, s.value) for s in observed]}")
                operations = {s.labels.get("operation") for s in
                              families.get("consolegate_upstream_request_duration_seconds", (None, []))[1]}
                r.check("consolegate_upstream_request_duration_seconds has an operation label",
                        bool(operations - {None}), f"{operations}")
                r.check("/metrics exposes no user names", not re.search(r'"(alice|carol)"', text))

        with Gateway([alice], rules, secrets=("password",), per_user=3) as gw:
            # alice's own client signs in once before anything happens: it keeps a device token.
            device_home = tempfile.mkdtemp(prefix="consolegate-device-")
            term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--user", "alice"],
                                     base_environment(device_home), [("Password: ", alice.password)])
            r.equal("alice's own consolegate login: exit code 0", term.status, 0)
            with r.section("/metrics: lockouts"):
                text = gw.metrics_text()
                if "consolegate_lockouts_total" not in text:
                    print("NOTE consolegate_lockouts_total is not exposed until the first lockout (no 0 sample)")
                before = metric_value(text, "consolegate_lockouts_total")
                locked_before = metric_value(text, "consolegate_logins_total", front_end="api", outcome="locked_out")
                statuses = [gw.api_login(username="alice", password="wrong")[0] for _ in range(4)]
                r.equal("three failures, then locked out", statuses, [401, 401, 401, 429])
                text = gw.metrics_text()
                r.check("consolegate_lockouts_total counts the lockout",
                        metric_value(text, "consolegate_lockouts_total") - before >= 1,
                        f"{before} → {metric_value(text, 'consolegate_lockouts_total')}")
                r.equal('consolegate_logins_total{front_end="api",outcome="locked_out"} +1',
                        metric_value(text, "consolegate_logins_total", front_end="api", outcome="locked_out")
                        - locked_before, 1)

            with r.section("device token: a lock on the name does not keep out the user's own consolegate login"):
                status, _ = gw.api_login(username="alice", password=alice.password)
                r.equal("alice's name is locked: the API without a device token answers 429", status, 429)
                term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--user", "alice"],
                                         base_environment(device_home), [("Password: ", alice.password)])
                r.equal("consolegate login with its device token: exit code 0", term.status, 0)
                r.equal("...and a URL", len(url_lines(term.transcript)), 1)
                shutil.rmtree(device_home, ignore_errors=True)

        # Per-role policy: the administrator role needs a one-time code on top of the password (its own PAM
        # service, pam_oath), a shorter session and its own console page; the read-only role the password.
        dave = User("dave", "dave-cli-pw", groups=["staff", "aws-admins"])
        step_up_rules = [Rule(read_only, groups=["staff"], label="Read-only"),
                         Rule(admin, groups=["aws-admins"], label="Administrator", step_up_otp=True, session_duration="1h",
                              destination="https://console.aws.amazon.com/ec2/home")]
        with Gateway([dave], step_up_rules) as gw:
            check_step_up(r, gw, dave, read_only, admin, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def check_step_up(r, gw: Gateway, dave: User, read_only: str, admin: str, home: str) -> None:
    federation = gw.standins["federation_url"]

    def minting_lines() -> list:
        return [e for e in gw.audit_lines() if e.get("outcome") == "minting"]

    with r.section("step-up over the API: the administrator role takes the password and the code"):
        status, _ = gw.api_login(username=dave.name, password=dave.password, role=admin)
        r.equal("API, administrator, password only: 401", status, 401)
        r.equal("API, password only: nothing minted (no minting line)", minting_lines(), [])
        status, _ = gw.api_login(username=dave.name, password=dave.password, otp="000000", role=admin)
        r.equal("API, administrator, a wrong code: 401", status, 401)
        status, answer = gw.api_login(username=dave.name, password=dave.password, otp=gw.otp(dave.name), role=admin)
        r.equal("API, administrator, password and code: 200", status, 200)
        url = (answer or {}).get("url", "")
        status, headers = follow_signin_url(url)
        r.equal("API, administrator: signed in as", headers.get("X-Standin-Principal"), assumed_role_arn(admin, dave.name))
        r.equal("API, administrator: the federation stand-in got the rule's SessionDuration", headers.get("X-Standin-Session-Duration"), "3600")
        r.equal("API, administrator: and its Destination", urlsplit(headers.get("Location", "")).path, "/ec2/home")
        status, answer = gw.api_login(username=dave.name, password=dave.password, role=read_only)
        r.check("API, read-only, password only: 200 with a URL", status == 200 and bool((answer or {}).get("url")), f"{status} {answer}")

    with r.section("step-up in consolegate login: the code is asked for by the role's label"):
        code = gw.otp(dave.name)
        term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--user", dave.name, "--role", admin], base_environment(home),
                                 [("Password: ", dave.password), ("One-time code for Administrator: ", code)])
        r.equal("login --role administrator: exit code 0", term.status, 0)
        r.check("login --role administrator: neither the password nor the code is echoed",
                dave.password not in term.transcript and code not in term.transcript)
        urls = url_lines(term.transcript)
        r.equal("login --role administrator: one URL line", len(urls), 1)
        if urls:
            check_signin_url(r, "login --role administrator", urls[0], federation, assumed_role_arn(admin, dave.name))
        term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--user", dave.name, "--role", read_only], base_environment(home),
                                 [("Password: ", dave.password)])
        r.equal("login --role read-only: exit code 0", term.status, 0)
        r.check("login --role read-only: no one-time code prompt", "One-time code" not in term.transcript, term.transcript)


if __name__ == "__main__":
    run(main)
