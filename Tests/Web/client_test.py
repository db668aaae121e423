"""`consolegate login` against a real `consolegate serve`, through a pseudo-terminal; the real AWS CLI using it as
a credential_process; and the /metrics counters.

Run through scripts/test.sh, or with the stand-ins started and CONSOLEGATE_BIN set:
    python3 -m pytest Tests/Web/client_test.py
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import tempfile
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pexpect
import pytest

from gateway_fixture import (
    Gateway, Rule, User, assumed_role_arn, follow_signin_url, metric_families, metric_value, role)

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


def check_signin_url(check, label: str, url: str, federation: str, principal: str) -> None:
    check(f"{label}: a sign-in URL of the federation stand-in", url.startswith(federation + "?Action=login")
          or (url.startswith(federation + "?") and "Action=login" in url), url[:120])
    status, headers = follow_signin_url(url)
    check(f"{label}: the URL signs in as {principal.rsplit(':', 1)[1]}",
          status == 302 and headers.get("X-Standin-Principal") == principal,
          f"{status} {headers.get('X-Standin-Principal')}")


ALICE = User("alice", "alice-cli-pw", groups=["staff"])
BOB = User("bob", "bob-cli-pw", groups=["staff"])
CAROL = User("carol", "carol-cli-pw", groups=["staff", "aws-admins"])
DAVE = User("dave", "dave-cli-pw", groups=["staff", "aws-admins"])


def rules() -> list[Rule]:
    return [Rule(role("ConsoleReadOnly"), groups=["staff"]), Rule(role("ConsoleAdmin"), groups=["aws-admins"])]


@pytest.fixture(scope="module")
def home():
    """The users' home: consolegate login keeps its device tokens under it."""
    path = tempfile.mkdtemp(prefix="consolegate-client-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


class TestPasswordAndCode:
    """A gateway that asks for a password and a one-time code."""

    @pytest.fixture(scope="class")
    def gw(self):
        with Gateway([ALICE, BOB], rules(), secrets=("password", "otp")) as gw:
            yield gw

    def test_login_in_a_terminal(self, gw, home, check):
        """consolegate login in a terminal: password, then a one-time code."""
        code = gw.otp("alice")
        term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--user", "alice"], base_environment(home),
                                 [("Password: ", ALICE.password), ("One-time code: ", code)])
        check.equal("login: exit code 0", term.status, 0)
        text = term.transcript
        check("login: the password is not echoed", ALICE.password not in text)
        check("login: the one-time code is not echoed", code not in text)
        urls = url_lines(text)
        check.equal("login: one URL line", len(urls), 1)
        if urls:
            check_signin_url(check, "login", urls[0], gw.standins["federation_url"],
                             assumed_role_arn(role("ConsoleReadOnly"), "alice"))
        store = os.path.join(home, ".local", "state", "consolegate", "device-tokens.json")
        check("login: the device token is kept in ~/.local/state/consolegate/device-tokens.json, mode 0600",
              os.path.exists(store) and os.stat(store).st_mode & 0o777 == 0o600, store)
        with open(store) as f:
            check("login: ...under this server and user", f"{gw.url}|alice" in json.load(f))

    def test_server_from_the_environment_and_json(self, gw, home, check):
        """consolegate login: server from CONSOLEGATE_SERVER, --format json."""
        code = gw.otp("bob")
        env = dict(base_environment(home), CONSOLEGATE_SERVER=gw.url)
        term = Terminal.converse(gw.binary, ["login", "--user", "bob", "--format", "json"], env,
                                 [("Password: ", BOB.password), ("One-time code: ", code)])
        check.equal("login --format json: exit code 0", term.status, 0)
        answer = json_in(term.transcript.split("One-time code:", 1)[-1])
        check("login --format json: url, expires_at, role_arn, session_name",
              {"url", "expires_at", "role_arn", "session_name"} <= set(answer)
              and answer["role_arn"] == role("ConsoleReadOnly") and answer["session_name"] == "bob", f"{answer}")
        check("login --format json: the password is not echoed", BOB.password not in term.transcript)
        check("login --format json: the device token is kept, not printed", "device_token" not in answer, f"{answer}")

    def test_wrong_password(self, gw, home, check):
        term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--user", "alice"], base_environment(home),
                                 [("Password: ", "not-" + ALICE.password), ("One-time code: ", "123456")])
        check.equal("wrong password: exit code 1 (authentication failed)", term.status, 1)
        check("wrong password: no URL", not url_lines(term.transcript), term.transcript[-300:])

    def test_aws_cli_credential_process(self, gw, home, check):
        """The AWS CLI with consolegate login as its credential_process."""
        aws = shutil.which("aws")
        if not aws:
            check("the aws command (PyPI awscli) is installed", False, "scripts/install-deps.sh installs it")
            return
        config = os.path.join(home, "aws-config")
        with open(config, "w") as f:
            f.write("[profile cg]\n"
                    f"credential_process = {shlex.quote(gw.binary)} login --server {gw.url} --user alice"
                    " --format credential-process\n")
        env = dict(base_environment(home), AWS_CONFIG_FILE=config, AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="")
        code = gw.otp("alice")
        # botocore pipes the process's stdout and stderr: the prompts must come on /dev/tty.
        term = Terminal.converse(aws, ["sts", "get-caller-identity", "--profile", "cg", "--endpoint-url",
                                       gw.standins["moto_url"], "--region", "us-east-1", "--output", "json"], env,
                                 [("Password: ", ALICE.password), ("One-time code: ", code)])
        check.equal("aws sts get-caller-identity: exit code 0", term.status, 0)
        check("aws: the password is not echoed", ALICE.password not in term.transcript)
        try:
            identity = json_in(term.transcript.split("One-time code:", 1)[-1])
        except ValueError as exc:
            identity = {}
            print(f"  aws said: {term.transcript[-600:]!r} ({exc})")
        check.equal("aws: the caller is alice in her role", identity.get("Arn"),
                    assumed_role_arn(role("ConsoleReadOnly"), "alice"))


class TestPasswordOnly:
    """A gateway that asks for the password only."""

    @pytest.fixture(scope="class")
    def gw(self):
        with Gateway([ALICE, CAROL], rules(), secrets=("password",)) as gw:
            yield gw

    def test_login_with_role(self, gw, home, check):
        """consolegate login against a password-only gateway, --role."""
        admin = role("ConsoleAdmin")
        term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--user", "carol", "--role", admin],
                                 base_environment(home), [("Password: ", CAROL.password)])
        check.equal("password only: exit code 0", term.status, 0)
        check("password only: no one-time code prompt", "One-time code" not in term.transcript, term.transcript)
        check("password only: the password is not echoed", CAROL.password not in term.transcript)
        urls = url_lines(term.transcript)
        check.equal("password only: one URL line", len(urls), 1)
        if urls:
            check_signin_url(check, "login --role", urls[0], gw.standins["federation_url"], assumed_role_arn(admin, "carol"))

    def test_logout_first(self, gw, home, check):
        """consolegate login --logout-first (user from $USER), and the API's logout_first."""
        federation = gw.standins["federation_url"]
        term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--logout-first"],
                                 dict(base_environment(home), USER="alice", LOGNAME="alice"), [("Password: ", ALICE.password)])
        check.equal("login --logout-first: exit code 0", term.status, 0)
        urls = url_lines(term.transcript)
        status, answer = gw.api_login(username="alice", password=ALICE.password, logout_first="true")
        check.equal('API {"logout_first": "true"}: 200', status, 200)
        for label, url in (("login --logout-first", urls[0] if urls else ""),
                           ("API logout_first", (answer or {}).get("url", ""))):
            parts = urlsplit(url)
            query = parse_qs(parts.query)
            check(f"{label}: the URL is the sign-in host's /oauth?Action=logout with a redirect_uri",
                  url.startswith(urlunsplit(urlsplit(federation)._replace(path="/oauth", query="")) + "?")
                  and query.get("Action") == ["logout"] and len(query.get("redirect_uri", [])) == 1, url[:160])
            target = (query.get("redirect_uri") or [""])[0]
            check_signin_url(check, f"{label}: redirect_uri", target, federation,
                             assumed_role_arn(role("ConsoleReadOnly"), "alice"))

    def test_metrics(self, gw, check):
        """/metrics: its own listener, counters that move by one per login, histograms, no user names."""
        status, _, _ = gw.http("GET", "/metrics")
        check.equal("GET /metrics on the login listener: 404 (metrics have a listener of their own)", status, 404)
        status, headers, body = gw.http("GET", "/metrics", port=gw.metrics_port)
        check.equal("GET /metrics on listen.metrics: 200", status, 200)
        check("GET /metrics: text/plain", (headers.get("Content-Type") or "").startswith("text/plain"),
              headers.get("Content-Type"))

        def counts():
            text = gw.metrics_text()
            return text, {outcome: metric_value(text, "consolegate_logins_total", front_end="api", outcome=outcome)
                          for outcome in ("success", "authentication_failed")}

        _, before = counts()
        status, _ = gw.api_login(username="alice", password=ALICE.password)
        check.equal("API login: 200", status, 200)
        _, after_success = counts()
        check.equal('consolegate_logins_total{front_end="api",outcome="success"} +1 after a login',
                    after_success["success"] - before["success"], 1)
        check.equal('...and outcome="authentication_failed" unchanged',
                    after_success["authentication_failed"] - before["authentication_failed"], 0)
        status, _ = gw.api_login(username="alice", password="not-" + ALICE.password)
        check.equal("API login with a wrong password: 401", status, 401)
        text, after_failure = counts()
        check.equal('consolegate_logins_total{front_end="api",outcome="authentication_failed"} +1 after a failure',
                    after_failure["authentication_failed"] - after_success["authentication_failed"], 1)
        check.equal('...and outcome="success" unchanged', after_failure["success"] - after_success["success"], 0)

        families = metric_families(text)
        types = {name: kind for name, (kind, _) in families.items()}

        def family(prefix):
            return next((name for name in families if name == prefix or name + "_total" == prefix), None)

        logins = family("consolegate_logins_total")
        check("consolegate_logins_total is a counter", logins is not None and types[logins] == "counter",
              f"{logins}: {types.get(logins)}")
        for name in ("consolegate_upstream_request_duration_seconds", "consolegate_pam_helper_duration_seconds"):
            kind = types.get(name)
            observed = [s for s in families.get(name, (None, []))[1] if s.name == name + "_count"]
            check(f"{name}: a histogram or summary with observations",
                  kind in ("histogram", "summary") and sum(s.value for s in observed) > 0,
                  f"type {kind}, counts {[(s.labels, s.value) for s in observed]}")
        operations = {s.labels.get("operation") for s in
                      families.get("consolegate_upstream_request_duration_seconds", (None, []))[1]}
        check("consolegate_upstream_request_duration_seconds has an operation label",
              bool(operations - {None}), f"{operations}")
        check("/metrics exposes no user names", not re.search(r'"(alice|carol)"', text))


class TestLockout:
    """lockout.per_user 3. alice's own client signs in before anything happens, and so keeps a device token; then
    her name is locked; then that client still gets in. The tests run in this order and build on each other."""

    @pytest.fixture(scope="class")
    def gw(self):
        with Gateway([ALICE], rules(), secrets=("password",), per_user=3) as gw:
            yield gw

    @pytest.fixture(scope="class")
    def device_home(self):
        path = tempfile.mkdtemp(prefix="consolegate-device-")
        yield path
        shutil.rmtree(path, ignore_errors=True)

    def test_own_client_signs_in_first(self, gw, device_home, check):
        term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--user", "alice"],
                                 base_environment(device_home), [("Password: ", ALICE.password)])
        check.equal("alice's own consolegate login: exit code 0", term.status, 0)

    def test_lockout_metrics(self, gw, check):
        """/metrics: lockouts."""
        text = gw.metrics_text()
        if "consolegate_lockouts_total" not in text:
            print("NOTE consolegate_lockouts_total is not exposed until the first lockout (no 0 sample)")
        before = metric_value(text, "consolegate_lockouts_total")
        locked_before = metric_value(text, "consolegate_logins_total", front_end="api", outcome="locked_out")
        statuses = [gw.api_login(username="alice", password="wrong")[0] for _ in range(4)]
        check.equal("three failures, then locked out", statuses, [401, 401, 401, 429])
        text = gw.metrics_text()
        check("consolegate_lockouts_total counts the lockout",
              metric_value(text, "consolegate_lockouts_total") - before >= 1,
              f"{before} → {metric_value(text, 'consolegate_lockouts_total')}")
        check.equal('consolegate_logins_total{front_end="api",outcome="locked_out"} +1',
                    metric_value(text, "consolegate_logins_total", front_end="api", outcome="locked_out")
                    - locked_before, 1)

    def test_device_token_gets_through_the_lock(self, gw, device_home, check):
        """A lock on the name does not keep out the user's own consolegate login."""
        status, _ = gw.api_login(username="alice", password=ALICE.password)
        check.equal("alice's name is locked: the API without a device token answers 429", status, 429)
        term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--user", "alice"],
                                 base_environment(device_home), [("Password: ", ALICE.password)])
        check.equal("consolegate login with its device token: exit code 0", term.status, 0)
        check.equal("...and a URL", len(url_lines(term.transcript)), 1)


class TestStepUp:
    """Per-role policy: the administrator role needs a one-time code on top of the password (its own PAM service,
    pam_oath), a shorter session and its own console page; the read-only role the password. The API test runs
    first: it checks that nothing was minted before it."""

    @pytest.fixture(scope="class")
    def gw(self):
        step_up_rules = [Rule(role("ConsoleReadOnly"), groups=["staff"], label="Read-only"),
                         Rule(role("ConsoleAdmin"), groups=["aws-admins"], label="Administrator", step_up_otp=True,
                              session_duration="1h", destination="https://console.aws.amazon.com/ec2/home")]
        with Gateway([DAVE], step_up_rules) as gw:
            yield gw

    def test_step_up_over_the_api(self, gw, check):
        """The administrator role takes the password and the code."""
        read_only, admin = role("ConsoleReadOnly"), role("ConsoleAdmin")

        def minting_lines() -> list:
            return [e for e in gw.audit_lines() if e.get("outcome") == "minting"]

        status, _ = gw.api_login(username=DAVE.name, password=DAVE.password, role=admin)
        check.equal("API, administrator, password only: 401", status, 401)
        check.equal("API, password only: nothing minted (no minting line)", minting_lines(), [])
        status, _ = gw.api_login(username=DAVE.name, password=DAVE.password, otp="000000", role=admin)
        check.equal("API, administrator, a wrong code: 401", status, 401)
        status, answer = gw.api_login(username=DAVE.name, password=DAVE.password, otp=gw.otp(DAVE.name), role=admin)
        check.equal("API, administrator, password and code: 200", status, 200)
        url = (answer or {}).get("url", "")
        status, headers = follow_signin_url(url)
        check.equal("API, administrator: signed in as", headers.get("X-Standin-Principal"), assumed_role_arn(admin, DAVE.name))
        check.equal("API, administrator: the federation stand-in got the rule's SessionDuration",
                    headers.get("X-Standin-Session-Duration"), "3600")
        check.equal("API, administrator: and its Destination", urlsplit(headers.get("Location", "")).path, "/ec2/home")
        status, answer = gw.api_login(username=DAVE.name, password=DAVE.password, role=read_only)
        check("API, read-only, password only: 200 with a URL", status == 200 and bool((answer or {}).get("url")),
              f"{status} {answer}")

    def test_step_up_in_consolegate_login(self, gw, home, check):
        """The code is asked for by the role's label."""
        read_only, admin = role("ConsoleReadOnly"), role("ConsoleAdmin")
        code = gw.otp(DAVE.name)
        term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--user", DAVE.name, "--role", admin],
                                 base_environment(home),
                                 [("Password: ", DAVE.password), ("One-time code for Administrator: ", code)])
        check.equal("login --role administrator: exit code 0", term.status, 0)
        check("login --role administrator: neither the password nor the code is echoed",
              DAVE.password not in term.transcript and code not in term.transcript)
        urls = url_lines(term.transcript)
        check.equal("login --role administrator: one URL line", len(urls), 1)
        if urls:
            check_signin_url(check, "login --role administrator", urls[0], gw.standins["federation_url"],
                             assumed_role_arn(admin, DAVE.name))
        term = Terminal.converse(gw.binary, ["login", "--server", gw.url, "--user", DAVE.name, "--role", read_only],
                                 base_environment(home), [("Password: ", DAVE.password)])
        check.equal("login --role read-only: exit code 0", term.status, 0)
        check("login --role read-only: no one-time code prompt", "One-time code" not in term.transcript, term.transcript)
