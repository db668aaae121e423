"""A real `consolegate serve` for the Python system tests (the pytest suites in Tests/Web and Tests/HA) and
scripts/screenshot.sh.

The AWS stand-ins must already run: scripts/test.sh (or anything that sources scripts/lib/standins.sh and calls
start_standins) exports CONSOLEGATE_TEST_MOTO_URL, CONSOLEGATE_TEST_FEDERATION_URL and CONSOLEGATE_TEST_FIXTURES.

    with Gateway([User("alice", "pw", groups=["staff"])],
                 [Rule(role("ConsoleReadOnly"), groups=["staff"])],
                 secrets=("password", "otp")) as gw:
        gw.url                       # http://127.0.0.1:PORT
        gw.http("GET", "/healthz")   # (status, headers, body), redirects not followed
        gw.otp("alice")              # a fresh TOTP code pam_oath accepts

Users live in a PAM stack of their own under pam_wrapper (pam_matrix passwords, optionally pam_oath codes) and
nss_wrapper passwd/group files in a temporary directory, so nothing in /etc changes. The daemon is stopped and
the directory removed on exit (CONSOLEGATE_TEST_KEEP=1 keeps it). Make requests one at a time: pam_wrapper
is racy when several wrapped PAM helpers start at once (each picks a /tmp/pam.X folder by lstat, then mkdir,
and removes folders it thinks stale), and a lost race fails a right password.

Tests that run as root and send logins in parallel use the host's own PAM instead: SystemAccounts creates
throwaway users and groups, and Gateway(system_pam=True) writes its stack (pam_unix, optionally pam_oath) to
/etc/pam.d under a name of its own and removes it on exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BINARY = os.path.join(ROOT, ".build", "debug", "consolegate")
# Debian's library directories for this machine's architecture, asked of gcc rather than written in.
MULTIARCH = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True, check=True).stdout.strip()
PAM_MATRIX = f"/usr/lib/{MULTIARCH}/pam_wrapper/pam_matrix.so"
PAM_OATH = f"/lib/{MULTIARCH}/security/pam_oath.so"
PAM_PERMIT = f"/lib/{MULTIARCH}/security/pam_permit.so"
SYSTEM_PAM_DIRECTORY = "/etc/pam.d"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
TOTP_STEP = 30
OTP_WINDOW = 2  # pam_oath window=2: codes up to two steps ahead are accepted


class SetupError(Exception):
    """The environment is not fit to run the tests (stand-ins missing, no binary, a daemon that did not start).
    Raised in a fixture it makes the tests that use it error, in a test it fails it: never a skip."""


# --- environment -------------------------------------------------------------------------------------------

def require_standins() -> dict:
    """The stand-ins' URLs and provisioned fixtures; SetupError with a clear message when they are not running."""
    names = ("CONSOLEGATE_TEST_MOTO_URL", "CONSOLEGATE_TEST_FEDERATION_URL", "CONSOLEGATE_TEST_FIXTURES")
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise SetupError(
            f"{', '.join(missing)} not set: the AWS stand-ins are not running. Run this through scripts/test.sh, or "
            "`source scripts/lib/standins.sh; start_standins` in the same shell first.")
    with open(os.environ["CONSOLEGATE_TEST_FIXTURES"]) as f:
        fixtures = json.load(f)
    return {
        "moto_url": os.environ["CONSOLEGATE_TEST_MOTO_URL"],
        "federation_url": os.environ["CONSOLEGATE_TEST_FEDERATION_URL"],
        "fixtures": fixtures,
    }


def binary() -> str:
    path = os.environ.get("CONSOLEGATE_BIN") or DEFAULT_BINARY
    if not os.access(path, os.X_OK):
        raise SetupError(f"no consolegate binary at {path}: run `swift build` (or set CONSOLEGATE_BIN)")
    return path


def role(name: str) -> str:
    """The ARN of a provisioned role: ConsoleReadOnly, ConsoleAdmin or ConsoleBilling."""
    return require_standins()["fixtures"]["roles"][name]


def output_dir() -> str:
    """Where screenshots go: $TEST_OUTPUT_DIR, default <repo>/test-output (git-ignored)."""
    path = os.environ.get("TEST_OUTPUT_DIR") or os.path.join(ROOT, "test-output")
    os.makedirs(path, exist_ok=True)
    return path


try:
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)  # loaded here: no dlopen between fork and exec
except OSError:
    _LIBC = None


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test process dies without cleaning up, the daemon gets SIGTERM.
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# --- the daemon --------------------------------------------------------------------------------------------

@dataclass
class User:
    name: str
    password: str
    groups: list[str] = field(default_factory=list)
    uid: int | None = None
    # Hex TOTP secret for pam_oath (only used when the gateway asks for an OTP); derived from the name if unset.
    otp_secret: str | None = None


@dataclass
class Rule:
    role: str
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    label: str | None = None
    # A step-up: a one-time code on top of pam.secrets, checked by a service of its own (pam_oath alone), e.g.
    # step_up_otp=True. The fixture writes that service and sets the rule's pam_service and secrets.
    step_up_otp: bool = False
    session_duration: str | None = None
    destination: str | None = None
    region: str | None = None

    STEP_UP_SERVICE = "consolegate-stepup"


class SystemAccounts:
    """The users as throwaway accounts of this host (passwd, shadow, group), for Gateway(system_pam=True). Root only.
    A context manager: on exit the users go, and the groups it had to create. A user left behind by a run that
    was killed (recognised by its comment) is replaced; any other existing account with a wanted name is an error."""

    COMMENT = "ConsoleGate test account"

    def __init__(self, users: list[User]) -> None:
        self.users = list(users)
        self.created_groups: list[str] = []
        self.scratch: str | None = None

    def __enter__(self) -> "SystemAccounts":
        if os.getuid() != 0:
            raise SetupError("SystemAccounts needs root: it adds users to /etc/passwd")
        for user in self.users:
            try:
                existing = pwd.getpwnam(user.name)
            except KeyError:
                continue
            if existing.pw_gecos != self.COMMENT:
                raise SetupError(f"the test wants a throwaway account {user.name}, and this host already has one")
            _run(["userdel", user.name])
        try:
            for group in sorted({g for u in self.users for g in u.groups}):
                if not _group_exists(group):
                    _run(["groupadd", group])
                    self.created_groups.append(group)
            self.scratch = tempfile.mkdtemp(prefix="consolegate-accounts-")
            # newusers: every user, its primary group and its password (hashed per /etc/login.defs) in one call.
            lines = [f"{u.name}:{u.password}::{u.groups[0] if u.groups else u.name}:{self.COMMENT}:"
                     f"{os.path.join(self.scratch, u.name)}:/usr/sbin/nologin\n" for u in self.users]
            batch = os.path.join(self.scratch, "newusers")
            with open(batch, "w") as f:
                f.writelines(lines)
            os.chmod(batch, 0o600)
            _run(["newusers", batch])
            for user in self.users:
                if len(user.groups) > 1:
                    _run(["usermod", "--append", "--groups", ",".join(user.groups[1:]), user.name])
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for user in self.users:
            subprocess.run(["userdel", user.name], capture_output=True)
        for group in self.created_groups:
            subprocess.run(["groupdel", group], capture_output=True)
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SetupError(f"{' '.join(command)}: exit {result.returncode}: {result.stderr.strip()}")


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


class Gateway:
    """`consolegate serve` with its own PAM stack, users, config and audit log. A context manager."""

    def __init__(self, users: list[User], access: list[Rule], *, secrets=("password",), logout_first: bool | None = None,
                 failure_floor: str = "200ms", per_user: int = 100, service: str = "consolegate-web",
                 destination: str | None = None, binary_path: str | None = None, listen_extra: tuple[str, ...] = (),
                 host: str = "127.0.0.1", postgres: dict | None = None, extra_env: dict | None = None,
                 lockout_extra: tuple[str, ...] = (), pam_extra: tuple[str, ...] = (), system_pam: bool = False):
        """`host`: the loopback address to listen on (replicas use 127.0.0.2, 127.0.0.3 …). `postgres`: shared
        state and audit in PostgreSQL: {"url": ..., "password_file": ..., "device_key_file": ..., "timeout": "1s",
        "audit_file": True}, each but url optional. `lockout_extra`: more lines under lockout:, e.g.
        "per_address: 100000" or "per_user_in_flight: 2". `system_pam`: the users are SystemAccounts and the stack is
        the host's pam_unix, in /etc/pam.d under a service name of this gateway's own (`service` is then a prefix)."""
        self.standins = require_standins()
        self.binary = binary_path or binary()
        self.users = {u.name: u for u in users}
        self.access = access
        self.secrets = tuple(secrets)
        self.logout_first = logout_first
        self.failure_floor = failure_floor
        self.per_user = per_user
        self.listen_extra = tuple(listen_extra)
        self.lockout_extra = tuple(lockout_extra)
        self.pam_extra = tuple(pam_extra)
        self.system_pam = system_pam
        self.service = f"{service}-{os.getpid()}-{uuid.uuid4().hex[:8]}" if system_pam else service
        self.destination = destination
        self.host = host
        self.postgres = postgres
        self.extra_env = dict(extra_env or {})
        self.directory: str | None = None
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self.metrics_port: int | None = None
        self.url: str | None = None
        self._log_lines: list[str] = []
        self._log_lock = threading.Lock()
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None
        self._last_otp_step: dict[str, int] = {}
        for index, user in enumerate(users):
            if user.uid is None:
                user.uid = 20001 + index
            if user.otp_secret is None:
                user.otp_secret = user.name.encode().hex().ljust(40, "0")[:40]

    # -- files ---------------------------------------------------------------------------------------------

    def _write(self, name: str, text: str) -> str:
        path = os.path.join(self.directory, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def _write_files(self) -> str:
        d = self.directory
        if self.system_pam:
            # nodelay: the gateway's failure floor paces failures here, as with pam_matrix.
            password_check, account_check = "pam_unix.so nodelay", "pam_unix.so"
        else:
            os.makedirs(os.path.join(d, "services"))
            passdb = self._write("passdb", "".join(f"{u.name}:{u.password}:{self.service}\n" for u in self.users.values()))
            password_check = account_check = f"{PAM_MATRIX} passdb={passdb}"
        stack = [f"auth {'requisite' if 'otp' in self.secrets else 'required'} {password_check}"]
        if "otp" in self.secrets:
            stack.append(f"auth required {PAM_OATH} usersfile={self._oath_usersfile()} window={OTP_WINDOW} digits=6")
        stack.append(f"account required {account_check}")
        if any(rule.step_up_otp for rule in self.access):
            # The step-up service gets only the code; the base service has checked the password.
            usersfile = self._oath_usersfile()
            # As the shipped pam/consolegate-stepup: the base service has checked the account.
            step_up = f"auth required {PAM_OATH} usersfile={usersfile} window={OTP_WINDOW} digits=6\naccount required {PAM_PERMIT}\n"
            if self.system_pam:
                raise SetupError("step-up rules are written for pam_wrapper stacks only")
            self._write(os.path.join("services", Rule.STEP_UP_SERVICE), step_up)
        if self.system_pam:
            with open(self._system_service_path(), "w") as f:
                f.write("\n".join(stack) + "\n")
        else:
            self._write(os.path.join("services", self.service), "\n".join(stack) + "\n")

        # Started as root, the daemon becomes the system's consolegate user, which owns the audit directory.
        service = pwd.getpwnam("consolegate") if os.getuid() == 0 else None
        os.makedirs(os.path.join(d, "audit"), mode=0o750)
        if service:
            os.chown(os.path.join(d, "audit"), service.pw_uid, service.pw_gid)
        if not self.system_pam:  # nss_wrapper's passwd and group
            service_passwd = [f"consolegate:x:{service.pw_uid}:{service.pw_gid}::/nonexistent:/usr/sbin/nologin\n"] if service else []
            self._write("passwd", "".join([f"{u.name}:x:{u.uid}:{u.uid}::/nonexistent:/bin/bash\n" for u in self.users.values()] + service_passwd))
            groups = sorted({g for u in self.users.values() for g in u.groups})
            lines = [f"{g}:x:{40000 + i}:{','.join(u.name for u in self.users.values() if g in u.groups)}\n"
                     for i, g in enumerate(groups)]
            lines += [f"{u.name}:x:{u.uid}:\n" for u in self.users.values()]
            lines += [f"consolegate:x:{service.pw_gid}:\n"] if service else []
            self._write("group", "".join(lines))

        fixtures = self.standins["fixtures"]
        config = [
            "aws:",
            "  region: us-east-1",
            "  strategy: cognito-developer",
            "  cognito:",
            f"    identity_pool_id: {fixtures['identity_pool_id']}",
            f"    developer_provider: {fixtures['developer_provider']}",
            "  session_duration: 1h",
            f"  signin_endpoint: {self.standins['federation_url']}",
            "  issuer: https://consolegate.example.org/",
        ]
        if self.destination:
            config.append(f"  destination: {self.destination}")
        if self.logout_first is not None:
            config.append(f"  logout_first: {'true' if self.logout_first else 'false'}")
        config.append("access:")
        for rule in self.access:
            config.append(f"  - role: {rule.role}")
            if rule.users:
                config.append(f"    users: [{', '.join(rule.users)}]")
            if rule.groups:
                config.append(f"    groups: [{', '.join(rule.groups)}]")
            if rule.step_up_otp:
                config += [f"    pam_service: {Rule.STEP_UP_SERVICE}", f"    secrets: [{', '.join(self.secrets + ('otp',))}]"]
            config += [f"    {key}: {json.dumps(value)}" for key, value in
                       (("label", rule.label), ("session_duration", rule.session_duration), ("destination", rule.destination),
                        ("region", rule.region)) if value is not None]
        config += [
            "listen:",
            f"  http: {self.host}:0",  # the daemon says which port it got: no race for a "free" port
            f"  metrics: {self.host}:0",
            *(f"  {line}" for line in self.listen_extra),
            "pam:",
            f"  service: {self.service}",
            f"  secrets: [{', '.join(self.secrets)}]",
            *(f"  {line}" for line in self.pam_extra),
            "audit:",
        ]
        pg = self.postgres
        if pg is None or pg.get("audit_file", True):
            config.append(f"  file: {os.path.join(d, 'audit', 'audit.jsonl')}")
        if pg is not None:
            config.append("  postgres: true")
        config += [
            "lockout:",
            f"  per_user: {self.per_user}",
            f"  failure_floor: {self.failure_floor}",
            *(f"  {line}" for line in self.lockout_extra),
        ]
        if pg is not None:
            if pg.get("device_key_file"):
                config.append(f"  device_key_file: {pg['device_key_file']}")
            config += ["state:", "  backend: postgres", "  postgres:", f"    url: {pg['url']}"]
            config += [f"    {key}: {pg[key]}" for key in ("password_file", "timeout") if pg.get(key)]
        return self._write("consolegate.yaml", "\n".join(config) + "\n")

    def _oath_usersfile(self) -> str:
        """The users' TOTP secrets for pam_oath, written once. pam_oath records every used code in it, so the
        file and its directory must be writable."""
        usersfile = os.path.join(self.directory, "oath", "users.oath")
        if not os.path.exists(usersfile):
            os.makedirs(os.path.dirname(usersfile), exist_ok=True)
            with open(usersfile, "w") as f:
                f.writelines(f"HOTP/T30/6 {u.name} - {u.otp_secret}\n" for u in self.users.values())
        return usersfile

    def _system_service_path(self) -> str:
        return os.path.join(SYSTEM_PAM_DIRECTORY, self.service)

    def environment(self) -> dict:
        d = self.directory
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PAM_WRAPPER", "NSS_WRAPPER"))}
        env.pop("LD_PRELOAD", None)
        if not self.system_pam:
            env.update({
                "LD_PRELOAD": "libpam_wrapper.so:libnss_wrapper.so",
                "PAM_WRAPPER": "1",
                "PAM_WRAPPER_SERVICE_DIR": os.path.join(d, "services"),
                "NSS_WRAPPER_PASSWD": os.path.join(d, "passwd"),
                "NSS_WRAPPER_GROUP": os.path.join(d, "group"),
            })
        env.update({
            "AWS_ENDPOINT_URL": self.standins["moto_url"],
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "y",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        env.update(self.extra_env)
        return env

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> "Gateway":
        self.directory = tempfile.mkdtemp(prefix="consolegate-web-")
        os.chmod(self.directory, 0o755)
        config = self._write_files()
        self.process = subprocess.Popen(
            [self.binary, "serve", "--config", config], env=self.environment(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read_log, name="daemon-log", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._reader.join(2)
                log = self.log
                self.stop()
                raise SetupError(f"consolegate serve did not start (exit {self.process.returncode}):\n{log}")
        self.url = f"http://{self.host}:{self.port}"
        if self.postgres is not None:
            self.wait_healthy(deadline - time.monotonic())
        return self

    def wait_healthy(self, timeout: float) -> None:
        """Until /healthz answers 200 (with PostgreSQL: the schema is current and the database answers)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, _, body = self.http("GET", "/healthz", timeout=2)
            except OSError as error:
                status, body = None, str(error).encode()
            if status == 200:
                return
            if time.monotonic() > deadline:
                raise SetupError(f"{self.url}/healthz did not turn ok: {status} {body!r}\n{self.log}")
            time.sleep(0.1)

    def _read_log(self) -> None:
        with open(os.path.join(self.directory, "daemon.log"), "a") as copy:
            for raw in self.process.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                copy.write(line + "\n")
                copy.flush()
                with self._log_lock:
                    self._log_lines.append(line)
                match = re.search(r"listening on " + re.escape(self.host) + r":(\d+)", line)
                if match:
                    if '"listener":"metrics"' in line:
                        self.metrics_port = int(match.group(1))
                    else:
                        self.port = int(match.group(1))
                    if self.port is not None and self.metrics_port is not None:
                        self._ready.set()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(5)
        if self.system_pam:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._system_service_path())
        if self.directory and not os.environ.get("CONSOLEGATE_TEST_KEEP"):
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "Gateway":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def log(self) -> str:
        with self._log_lock:
            return "\n".join(self._log_lines)

    def audit_lines(self) -> list[dict]:
        try:
            with open(os.path.join(self.directory, "audit", "audit.jsonl")) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    # -- one-time codes ------------------------------------------------------------------------------------

    def otp(self, name: str, timeout: float = 2 * TOTP_STEP + 5) -> str:
        """A TOTP code for `name` that pam_oath has not seen. pam_oath refuses a code whose time step is not
        later than the last one used, and accepts up to OTP_WINDOW steps ahead, so each call takes the next
        unused step; after OTP_WINDOW + 1 codes within one step it polls until the clock catches up."""
        secret = self.users[name].otp_secret
        deadline = time.monotonic() + timeout
        while True:
            now = int(time.time())
            current = now // TOTP_STEP
            step = max(current, self._last_otp_step.get(name, -1) + 1)
            if step <= current + OTP_WINDOW:
                break
            if time.monotonic() > deadline:
                raise SetupError(f"no unused one-time code for {name} within {timeout:.0f}s")
            time.sleep(0.2)
        self._last_otp_step[name] = step
        return subprocess.check_output(
            ["oathtool", "--totp", f"--now=@{step * TOTP_STEP}", secret], text=True).strip()

    # -- HTTP ----------------------------------------------------------------------------------------------

    def http(self, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None,
             timeout: float = 30.0, port: int | None = None, source: str | None = None):
        """One request, redirects not followed. Returns (status, headers: http.client.HTTPMessage, body bytes).
        `port`: another listener (metrics); `source`: the loopback address to connect from."""
        return request(self.host, port or self.port, method, path, body, headers, timeout=timeout, source=source)

    def login_page(self):
        """GET / as a new browser: (the consolegate_csrf cookie's value, the form's csrf field, the raw Set-Cookie
        header)."""
        _, headers, body = self.http("GET", "/")
        raw = next((c for c in headers.get_all("Set-Cookie") or [] if c.strip().startswith("consolegate_csrf=")), "")
        cookie = raw.split(";")[0].split("=", 1)[1] if raw else ""
        return cookie, Inputs(body.decode("utf-8", "replace")).value("csrf"), raw

    def api_login(self, **fields):
        """POST /api/v1/login with a JSON body; (status, parsed JSON or None)."""
        status, _, body = self.http("POST", "/api/v1/login", json.dumps(fields),
                                    {"Content-Type": "application/json"})
        try:
            return status, json.loads(body)
        except ValueError:
            return status, None

    def metrics_text(self) -> str:
        status, _, body = self.http("GET", "/metrics", port=self.metrics_port)
        if status != 200:
            raise AssertionError(f"GET /metrics answered {status}")
        return body.decode()


class Inputs(HTMLParser):
    """The <input> attributes of a page, for the checks without a browser."""

    def __init__(self, html: str):
        super().__init__()
        self.inputs: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "input":
            self.inputs.append(dict(attrs))

    def value(self, name: str):
        return next((i.get("value") for i in self.inputs if i.get("name") == name), None)


def request(host: str, port: int, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None,
            timeout: float = 30.0, source: str | None = None):
    """One HTTP request on its own connection: (status, headers: http.client.HTTPMessage, body bytes); redirects not
    followed. `source`: the loopback address to connect from."""
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def wait_until(predicate, timeout: float, interval: float = 0.05):
    """Polls `predicate` until it returns something truthy (returned) or `timeout` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


def follow_signin_url(url: str):
    """GETs a sign-in URL at the federation stand-in without following its redirect: (status, headers).
    A successful login answers 302 with X-Standin-Principal, the ARN the token was minted for. One-time."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
        response = conn.getresponse()
        response.read()
        return response.status, response.headers
    finally:
        conn.close()


def assumed_role_arn(role_arn: str, session: str) -> str:
    """arn:aws:iam::123456789012:role/Name → arn:aws:sts::123456789012:assumed-role/Name/session"""
    account = role_arn.split(":")[4]
    return f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[1]}/{session}"


def metric_value(text: str, sample: str, **labels: str) -> float:
    """The sum of the samples named `sample` (e.g. consolegate_logins_total) whose labels include `labels`,
    parsed with prometheus_client; 0 when there is none yet."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def metric_families(text: str) -> dict:
    """{family name: (type, [samples])}, parsed with prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: (f.type, list(f.samples)) for f in text_string_to_metric_families(text)}


# --- the console, as far as a browser can tell --------------------------------------------------------------

CONSOLE_HOSTS = ("console.aws.amazon.com", "*.console.aws.amazon.com")


class ConsoleStandIn:
    """An HTTPS server on 127.0.0.1 that a Browser reaches for https://console.aws.amazon.com/ (its host-resolver
    rules map the console host here, and it trusts this server's throwaway self-signed certificate). The
    federation stand-in's 302 to the Destination then ends on a real page, as with AWS, instead of a DNS error
    (whose error page Chromium auto-reloads, re-running the redirect chain with the spent one-time token).
    `requests` lists (host, path) of every GET. A context manager."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.port: int | None = None
        self.metrics_port: int | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._directory: str | None = None

    def __enter__(self) -> "ConsoleStandIn":
        import ssl
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self._directory = tempfile.mkdtemp(prefix="consolegate-console-")
        cert, key = _self_signed_certificate(self._directory, "console.aws.amazon.com")
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append((self.headers.get("Host", ""), self.path))
                body = b"<!doctype html><html lang=en><title>AWS console stand-in</title><h1>Console stand-in</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="console", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._directory:
            shutil.rmtree(self._directory, ignore_errors=True)


def _self_signed_certificate(directory: str, host: str) -> tuple[str, str]:
    # cryptography comes with moto[server] (scripts/install-deps.sh).
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(host), x509.DNSName("*." + host)]), critical=False)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


# --- headless Chromium -------------------------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_BIN") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN") or shutil.which("chromedriver") or "/usr/bin/chromedriver"


class Browser:
    """Headless Chromium driven by Selenium through Debian's chromium-driver, with a throwaway profile. Every
    host name but 127.0.0.1 fails to resolve, so nothing leaves the machine; with a ConsoleStandIn the console
    host goes to it instead. Keeps the DevTools performance log (network events) for the tests to inspect.
    A context manager."""

    def __init__(self, width: int = 1280, height: int = 900, console: ConsoleStandIn | None = None):
        self.width, self.height = width, height
        self.console = console
        self.driver = None
        self.profile: str | None = None
        self.events: list[dict] = []

    def __enter__(self) -> "Browser":
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                raise SetupError(f"{path} missing: apt-get install chromium chromium-driver (scripts/install-deps.sh)")
        rules = [f"MAP {host} 127.0.0.1:{self.console.port}" for host in CONSOLE_HOSTS] if self.console else []
        rules += ["MAP * ~NOTFOUND", "EXCLUDE 127.0.0.1"]
        arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-extensions", "--disable-dev-shm-usage", "--lang=en-US",
                     "--host-resolver-rules=" + " , ".join(rules), f"--window-size={self.width},{self.height}"]
        if self.console:
            arguments.append("--ignore-certificate-errors")  # the console stand-in's certificate; throwaway profile
        self.profile = tempfile.mkdtemp(prefix="consolegate-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in arguments + [f"--user-data-dir={self.profile}"]:
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        try:
            self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        except BaseException:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(30)
        self.viewport(self.width, self.height)
        # Light colours whatever the host prefers, so screenshots do not depend on it.
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                    {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.driver is not None:
                self.driver.quit()
        finally:
            if self.profile:
                shutil.rmtree(self.profile, ignore_errors=True)

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        """Exactly this CSS viewport (a window size would include the browser's own chrome)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def screenshot(self, path: str) -> None:
        self.driver.save_screenshot(path)

    def drain(self) -> list[dict]:
        """Moves new DevTools network events into self.events; returns the new ones."""
        new = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method", "").startswith("Network."):
                new.append(message)
        self.events.extend(new)
        return new

    def clear_events(self) -> None:
        self.drain()
        self.events = []

    def console_messages(self) -> list[dict]:
        return self.driver.get_log("browser")
