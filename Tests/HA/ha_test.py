"""Several `consolegate serve` replicas on one PostgreSQL database ("several gateways, one truth"): replicas
on 127.0.0.2, 127.0.0.3 and 127.0.0.4, mostly behind HAProxy (roundrobin, httpchk GET /healthz), each with
its own PAM service in /etc/pam.d (gateway_fixture.Gateway(system_pam=True): the host's pam_unix, plus pam_oath
in 4) for throwaway accounts of this host (SystemAccounts; pam_wrapper is not safe for PAM transactions that
start in parallel), sharing the lockout, role choices, used one-time codes and the audit trail through the
database.

  1. three replicas started at once on an empty database: all healthy, the schema created once
  2. 200 concurrent wrong guesses for one name through the balancer: at most lockout.per_user reach PAM
  3. a web role choice made on replica A is finished on B, and cannot be replayed on C
  4. one one-time code on two replicas (each of whose pam_oath would accept it): one sign-in at most
  5. kill -9 of a replica during 60 s of logins through the balancer: no wrong answer, no URL without its
     audit row, errors only for the requests in flight at the kill
  6. PostgreSQL stopped under load: fast 503s, no URL, /healthz degraded; back without restarting replicas
  7. `consolegate audit` shows exactly the rows of consolegate.audit, for each filter
  8. hardened roles: `consolegate migrate --grant-to` leaves the service role unable to change the trail,
     and a replica running as that role starts on the current schema and serves a login

Needs root (the daemon drops to the `consolegate` user), the AWS stand-ins and the throwaway PostgreSQL of
scripts/lib/postgres.sh (start_postgres exports CONSOLEGATE_TEST_PG_*; this test stops and restarts that
server through postgres_ctl), and haproxy. Each scenario makes its own database and roles and drops them.

Run through scripts/test.sh, or with the stand-ins and PostgreSQL started and CONSOLEGATE_BIN set:
    python3 -m pytest Tests/HA/ha_test.py
The tests run in the order above (1, 3, 2 and 7 share three replicas and build on each other's rows), one
after the other: 5 and 6 measure under load. CONSOLEGATE_TEST_KEEP=1 keeps the replicas' directories
(daemon.log) and HAProxy's.
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from gateway_fixture import (
    Gateway, Rule, SetupError, SystemAccounts, User, _die_with_parent, assumed_role_arn, binary, follow_signin_url, request, role,
    wait_until)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REPLICA_HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
POSTGRES_SH = os.path.join(ROOT, "scripts", "lib", "postgres.sh")
STATE_TIMEOUT = 1.0            # state.postgres.timeout of every replica here
STATE_TIMEOUT_MARGIN = 0.5     # an answer while PostgreSQL is down must come within timeout + this
LOAD_SECONDS = 60.0
KILL_AT = 20.0
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


# --- small helpers ----------------------------------------------------------------------------------------

def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def api_login(host: str, port: int, timeout: float = 30.0, **fields):
    """POST /api/v1/login: (status, parsed JSON or None)."""
    status, _, body = request(host, port, "POST", "/api/v1/login", json.dumps(fields), JSON, timeout=timeout)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


class Inputs(HTMLParser):
    """The <input> elements of a page."""

    def __init__(self, html: bytes | str):
        super().__init__()
        self.inputs: list[dict] = []
        self.feed(html.decode("utf-8", "replace") if isinstance(html, bytes) else html)

    def handle_starttag(self, tag, attrs):
        if tag == "input":
            self.inputs.append(dict(attrs))

    def value(self, name: str):
        return next((i.get("value") for i in self.inputs if i.get("name") == name), None)

    def values(self, name: str) -> list:
        return [i.get("value") for i in self.inputs if i.get("name") == name]


# --- PostgreSQL -------------------------------------------------------------------------------------------

class Postgres:
    """The throwaway cluster of scripts/lib/postgres.sh, as its superuser through psql."""

    def __init__(self) -> None:
        names = ("CONSOLEGATE_TEST_PG_PORT", "CONSOLEGATE_TEST_PG_PASSWORD", "CONSOLEGATE_TEST_PG_DATA", "CONSOLEGATE_TEST_PG_BIN")
        missing = [n for n in names if not os.environ.get(n)]
        if missing:
            raise SetupError(f"{', '.join(missing)} not set: PostgreSQL is not running. Run this through scripts/test.sh, or "
                             "`source scripts/lib/postgres.sh; start_postgres` in the same shell first.")
        self.port = int(os.environ["CONSOLEGATE_TEST_PG_PORT"])
        self.password = os.environ["CONSOLEGATE_TEST_PG_PASSWORD"]
        bindir = os.environ["CONSOLEGATE_TEST_PG_BIN"]
        self.psql_bin = os.path.join(bindir, "psql") if os.access(os.path.join(bindir, "psql"), os.X_OK) else "psql"

    def psql(self, sql: str, db: str = "postgres", user: str = "postgres", password: str | None = None,
             timeout: float = 30.0) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PGPASSWORD": password or self.password, "PGCONNECT_TIMEOUT": "5"}
        return subprocess.run([self.psql_bin, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                               "-p", str(self.port), "-U", user, "-d", db, "-c", sql],
                              env=env, capture_output=True, text=True, timeout=timeout)

    def sql(self, sql: str, db: str = "postgres", **kw) -> str:
        done = self.psql(sql, db, **kw)
        if done.returncode != 0:
            raise AssertionError(f"psql failed ({done.returncode}) on {sql!r}: {done.stderr.strip()}")
        return done.stdout.strip()

    def rows(self, query: str, db: str) -> list:
        """The rows of `query` as dicts, through json_agg."""
        return json.loads(self.sql(f"SELECT coalesce(json_agg(q), '[]'::json) FROM ({query}) AS q", db) or "[]")

    def scalar(self, query: str, db: str):
        return json.loads(self.sql(f"SELECT to_json(({query}))", db))

    def ctl(self, action: str) -> None:
        """postgres_ctl start|stop from scripts/lib/postgres.sh (waits until the server is up or down)."""
        subprocess.run(["bash", "-c", 'source "$1" && postgres_ctl "$2"', "postgres_ctl", POSTGRES_SH, action],
                       check=True, timeout=60, stdin=subprocess.DEVNULL)

    def is_up(self) -> bool:
        try:
            return self.psql("SELECT 1", timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False


class Database:
    """A database of its own for one check, owned by a login role of its own (password in a 0600 file), and a
    device key file (0600) for the replicas. A context manager: all dropped on exit."""

    def __init__(self, pg: Postgres, label: str) -> None:
        self.pg = pg
        self.name = f"ha_{label}_{os.getpid()}"
        self.owner = self.name + "_owner"
        self.roles: list[str] = []
        self.passwords: dict[str, str] = {}
        self.directory: str | None = None
        self.device_key_file: str | None = None

    def __enter__(self) -> "Database":
        self.directory = tempfile.mkdtemp(prefix="consolegate-ha-secrets-")
        os.chmod(self.directory, 0o700)
        self.device_key_file = self._secret_file("device.key", secrets.token_hex(32))
        self._drop()
        self.add_role(self.owner)
        self.pg.sql(f'CREATE DATABASE "{self.name}" OWNER "{self.owner}"')
        return self

    def _secret_file(self, name: str, text: str) -> str:
        path = os.path.join(self.directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        return path

    def add_role(self, role_name: str) -> str:
        """A login role with a random password; returns its password file."""
        password = secrets.token_hex(16)
        self.pg.sql(f"DROP ROLE IF EXISTS \"{role_name}\"; CREATE ROLE \"{role_name}\" LOGIN PASSWORD '{password}'")
        self.roles.append(role_name)
        self.passwords[role_name] = password
        return self.password_file(role_name)

    def password_file(self, role_name: str) -> str:
        return self._secret_file(f"{role_name}.password", self.passwords[role_name])

    def url(self, role_name: str | None = None) -> str:
        return f"postgres://{role_name or self.owner}@127.0.0.1:{self.pg.port}/{self.name}?sslmode=disable"

    def settings(self, role_name: str | None = None) -> dict:
        """Gateway(postgres=...): this database as `role_name` (the owner by default), the trail only in PostgreSQL."""
        role_name = role_name or self.owner
        return {"url": self.url(role_name), "password_file": self.password_file(role_name),
                "device_key_file": self.device_key_file, "timeout": f"{STATE_TIMEOUT:g}s", "audit_file": False}

    def rows(self, query: str) -> list:
        return self.pg.rows(query, self.name)

    def scalar(self, query: str):
        return self.pg.scalar(query, self.name)

    def _drop(self) -> None:
        self.pg.sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        for role_name in [self.owner] + [r for r in self.roles if r != self.owner]:
            self.pg.sql(f'DROP ROLE IF EXISTS "{role_name}"')

    def __exit__(self, *exc) -> None:
        try:
            if self.pg.is_up():
                self._drop()
            else:
                print(f"NOTE PostgreSQL is down: database {self.name} not dropped", flush=True)
        finally:
            if self.directory:
                shutil.rmtree(self.directory, ignore_errors=True)


# --- replicas and the balancer ----------------------------------------------------------------------------

@contextlib.contextmanager
def replicas(users: list[User], rules: list[Rule], db: Database, hosts=REPLICA_HOSTS, role_name: str | None = None, **kw):
    """Gateways on `hosts`, all on `db`, started at the same moment (one thread each, released together by a
    barrier); each start waits until its /healthz says ok. Yields (gateways, start errors): a gateway whose
    start failed is None. All stopped on exit."""
    gateways = [Gateway(users, rules, host=host, postgres=db.settings(role_name), system_pam=True, **kw) for host in hosts]
    errors: list[BaseException | None] = [None] * len(gateways)
    barrier = threading.Barrier(len(gateways))

    def start(index: int) -> None:
        try:
            barrier.wait(10)
            gateways[index].start()
        except BaseException as error:  # noqa: BLE001 -- reported by the caller
            errors[index] = error

    threads = [threading.Thread(target=start, args=(i,), name=f"start-{i}") for i in range(len(gateways))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        yield [g if e is None else None for g, e in zip(gateways, errors)], errors
    finally:
        for gw in gateways:
            stop_replica(gw)


def stop_replica(gw: Gateway) -> None:
    """Stops a replica, also after kill -9: any PAM helper it left behind in its process group goes too."""
    if gw.process is not None and gw.process.poll() is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(gw.process.pid, signal.SIGKILL)
    gw.stop()


def started(gateways, errors, what: str) -> list[Gateway]:
    """All the replicas, or AssertionError (the test fails) with the first start failure."""
    if gateways is None:
        raise AssertionError(f"{what}: the replicas were not started")
    for gw, error in zip(gateways, errors):
        if error is not None:
            raise AssertionError(f"{what}: a replica did not start: {error}")
    return gateways


class HAProxy:
    """HAProxy in front of the replicas: roundrobin, httpchk GET /healthz every 500 ms (fall 2, rise 2), a stats
    page. A request whose connection to a server fails is retried on another server (retry-on conn-failure,
    redispatch); nothing that reached a server is ever sent again. A context manager."""

    def __init__(self, gateways: list[Gateway]) -> None:
        self.gateways = gateways
        self.port = free_port()
        self.stats_port = free_port()
        self.directory: str | None = None
        self.process: subprocess.Popen | None = None
        self.names = [f"r{i}" for i in range(len(gateways))]

    def config(self) -> str:
        servers = "\n".join(f"    server {name} {gw.host}:{gw.port} check" for name, gw in zip(self.names, self.gateways))
        return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 1s
    retries 2
    option redispatch 1
    retry-on conn-failure
    http-reuse never

listen gate
    bind 127.0.0.1:{self.port}
    balance roundrobin
    option httpchk GET /healthz
    default-server inter 500ms fall 2 rise 2
{servers}

listen stats
    bind 127.0.0.1:{self.stats_port}
    stats enable
    stats uri /stats
"""

    def __enter__(self) -> "HAProxy":
        self.directory = tempfile.mkdtemp(prefix="consolegate-ha-haproxy-")
        path = os.path.join(self.directory, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(self.config())
        check = subprocess.run(["haproxy", "-c", "-q", "-f", path], capture_output=True, text=True)
        if check.returncode != 0:
            raise SetupError(f"haproxy -c refused the config: {check.stderr}")
        self.log_path = os.path.join(self.directory, "haproxy.log")
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(["haproxy", "-f", path, "-db"], stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        if not wait_until(lambda: self.process.poll() is not None or self.all_up(), 15, 0.1) or self.process.poll() is not None:
            log = self.log
            self.__exit__()
            raise SetupError(f"HAProxy did not see every replica UP within 15 s: {self.statuses()}\n{log}")
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.directory and not os.environ.get("CONSOLEGATE_TEST_KEEP"):
            shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def log(self) -> str:
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def stats(self) -> dict:
        """{server name: its row of the stats CSV} for the servers of `gate`; {} while the page does not answer."""
        try:
            status, _, body = request("127.0.0.1", self.stats_port, "GET", "/stats;csv", timeout=2)
        except OSError:
            return {}
        if status != 200:
            return {}
        text = body.decode().lstrip("# ")
        return {row["svname"]: row for row in csv.DictReader(io.StringIO(text))
                if row.get("pxname") == "gate" and row.get("svname") in self.names}

    def statuses(self) -> dict:
        return {name: row.get("status") for name, row in self.stats().items()}

    def all_up(self) -> bool:
        statuses = self.statuses()
        return len(statuses) == len(self.names) and all(s == "UP" for s in statuses.values())

    def api_login(self, timeout: float = 30.0, **fields):
        return api_login("127.0.0.1", self.port, timeout=timeout, **fields)


# --- 1, 2, 3, 7: three replicas on one new database -------------------------------------------------------

def check_simultaneous_start(check, db: Database, gateways, errors) -> None:
    check("1: all three replicas, started at the same moment on an empty database, answer /healthz 200",
          all(e is None for e in errors), "; ".join(f"{h}: {e}" for h, e in zip(REPLICA_HOSTS, errors) if e))
    versions = db.rows("SELECT version, applied_by FROM consolegate.schema_version ORDER BY version")
    check.equal("1: consolegate.schema_version has exactly one row, for version 1 (the schema was created once)",
                [v["version"] for v in versions], [1])
    applied = [gw.host for gw in gateways if gw and "applied schema migration 1" in gw.log]
    print(f"NOTE migration 1 applied by {applied} (of the three replicas' logs)", flush=True)
    check.equal("1: exactly one replica's log says it applied migration 1", len(applied), 1)
    tables = db.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'consolegate' ORDER BY 1")
    check.equal("1: schema consolegate has its tables",
                [t["table_name"] for t in tables],
                ["attempt_slots", "audit", "lockout", "role_choices", "schema_version", "used_codes"])


def check_web_role_choice(check, db: Database, gateways, carol: User) -> None:
    a, b, c = gateways
    admin, read_only = role("ConsoleAdmin"), role("ConsoleReadOnly")
    federation = a.standins["federation_url"]

    def start_login(gw: Gateway, source: str = "127.0.0.1"):
        """GET / and POST /login on `gw`: (cookie, csrf, status, chooser inputs)."""
        status, headers, body = gw.http("GET", "/", source=source)
        raw = next((h for h in headers.get_all("Set-Cookie") or [] if h.strip().startswith("consolegate_csrf=")), "")
        cookie = raw.split(";")[0].split("=", 1)[1] if raw else ""
        csrf = Inputs(body).value("csrf")
        if status != 200 or not cookie or not csrf:
            raise AssertionError(f"GET / on {gw.host}: {status}, cookie {raw!r}, csrf field {csrf!r}")
        status, _, body = gw.http("POST", "/login", urlencode({"csrf": csrf, "username": carol.name, "password": carol.password}),
                                  dict(FORM, Cookie=f"consolegate_csrf={cookie}"), source=source)
        return cookie, csrf, status, Inputs(body)

    def choose(gw: Gateway, cookie: str, csrf: str, pending: str, chosen: str, source: str = "127.0.0.1"):
        return gw.http("POST", "/login/role", urlencode({"csrf": csrf, "pending": pending, "role": chosen}),
                       dict(FORM, Cookie=f"consolegate_csrf={cookie}"), source=source)

    cookie, csrf, status, page = start_login(a)
    pending = page.value("pending")
    check("3: POST /login on replica A for a user with two roles: 200 with the chooser (hidden pending token)",
          status == 200 and bool(pending), f"{status}, pending {pending!r}")
    check.equal("3: the chooser offers both roles", sorted(page.values("role")), sorted([admin, read_only]))
    status, headers, _ = choose(b, cookie, csrf, pending, admin)
    location = headers.get("Location") or ""
    check("3: the token posted to replica B: 303 to the federation stand-in's sign-in URL",
          status == 303 and location.startswith(federation + "?"), f"{status} {location[:120]}")
    if location.startswith(federation):
        signin_status, signin_headers = follow_signin_url(location)
        check("3: the sign-in URL works (302) and is for the role chosen on B (ConsoleAdmin)",
              signin_status == 302 and signin_headers.get("X-Standin-Principal") == assumed_role_arn(admin, carol.name),
              f"{signin_status} {signin_headers.get('X-Standin-Principal')}")
    status, _, _ = choose(c, cookie, csrf, pending, admin)
    check.equal("3: the same token replayed on replica C: 403", status, 403)
    status, _, _ = choose(b, cookie, csrf, pending, read_only)
    check.equal("3: ...and replayed on replica B again: 403", status, 403)

    rows = db.rows(f"SELECT outcome, role, session_name, front_end FROM consolegate.audit "
                   f"WHERE user_name = '{carol.name}' AND outcome = 'success' ORDER BY id")
    check("3: the audit trail has the web sign-in as ConsoleAdmin with a session name",
          any(x["role"] == admin and x["session_name"] and x["front_end"] == "web" for x in rows), f"{rows}")

    # The choice is bound to the browser's CSRF value and to the client address, on every replica.
    cookie, csrf, status, page = start_login(a)
    other_cookie, other_csrf, _, _ = start_login(c)
    status, _, _ = choose(b, other_cookie, other_csrf, page.value("pending"), admin)
    check.equal("3: a token posted to B with another browser's CSRF cookie and field: 403", status, 403)
    cookie, csrf, status, page = start_login(a)
    status, _, _ = choose(b, cookie, csrf, page.value("pending"), admin, source="127.0.0.9")
    check.equal("3: a token posted to B from another client address: 403", status, 403)


def check_brute_force(check, db: Database, proxy: HAProxy, bob: User, per_user: int) -> None:
    guesses = 200
    before = {name: int(row.get("stot") or 0) for name, row in proxy.stats().items()}

    def guess(i: int):
        try:
            return proxy.api_login(username=bob.name, password=f"wrong-{i}")[0]
        except OSError as error:
            return f"error: {error}"

    started_at = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(guess, range(guesses)))
    elapsed = time.monotonic() - started_at
    counts = {s: statuses.count(s) for s in set(statuses)}
    after = {name: int(row.get("stot") or 0) for name, row in proxy.stats().items()}
    spread = {name: after.get(name, 0) - before.get(name, 0) for name in proxy.names}
    print(f"NOTE {guesses} guesses in {elapsed:.1f} s: answers {counts}; requests per replica {spread}", flush=True)
    check("2: the guesses were spread over all three replicas", all(n > 0 for n in spread.values()), f"{spread}")
    check("2: every answer is 401 or 429 (no 200, no 5xx)", set(statuses) <= {401, 429}, f"{counts}")
    outcomes = {x["outcome"]: x["n"] for x in db.rows(
        f"SELECT outcome, count(*) AS n FROM consolegate.audit WHERE user_name = '{bob.name}' GROUP BY outcome")}
    print(f"NOTE audit outcomes for {bob.name}: {outcomes}", flush=True)
    failed = outcomes.get("authentication_failed", 0)
    check(f"2: at most lockout.per_user ({per_user}) guesses reached PAM: {failed} authentication_failed rows",
          1 <= failed <= per_user, f"{failed}")
    check.equal("2: as many 401 answers as guesses that reached PAM", counts.get(401, 0), failed)
    check.equal("2: one audit row per guess", sum(outcomes.values()), guesses)
    check("2: the rest were refused before PAM (locked_out or throttled only)",
          set(outcomes) <= {"authentication_failed", "locked_out", "throttled"}, f"{outcomes}")
    status, answer = proxy.api_login(username=bob.name, password=bob.password)
    check.equal("2: the right password afterwards, through the balancer: 429 (locked)", status, 429)
    for gw in proxy.gateways:
        status, _ = api_login(gw.host, gw.port, username=bob.name, password=bob.password)
        check.equal(f"2: ...and on replica {gw.host} directly: 429", status, 429)
    last = db.rows(f"SELECT outcome FROM consolegate.audit WHERE user_name = '{bob.name}' ORDER BY id DESC LIMIT 1")
    check.equal("2: audited as locked_out", [x["outcome"] for x in last], ["locked_out"])


AUDIT_KEYS = ("time", "request_id", "front_end", "user", "client", "outcome", "role", "session_name", "access_key_id", "expires", "detail")


def check_audit_command(check, db: Database, gw: Gateway, bob: User) -> None:
    config = os.path.join(gw.directory, "consolegate.yaml")
    # A row from two hours ago, so that --since has something to leave out.
    db.pg.sql("INSERT INTO consolegate.audit (time, request_id, front_end, user_name, client, outcome, detail) VALUES "
              "(date_trunc('milliseconds', now() - interval '2 hours'), 'ha-test-old', 'api', 'olduser', '192.0.2.1', "
              "'authentication_failed', 'inserted by ha_test.py')", db.name)
    total = db.scalar("SELECT count(*) FROM consolegate.audit")

    def expected(where: str = "TRUE", limit: int = 1000) -> list:
        fields = ", ".join([
            "'time', to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", "'request_id', request_id",
            "'front_end', front_end", "'user', user_name", "'client', client", "'outcome', outcome", "'role', role",
            "'session_name', session_name", "'access_key_id', access_key_id",
            "'expires', to_char(expires AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", "'detail', detail"])
        rows = db.rows(f"SELECT json_strip_nulls(json_build_object({fields})) AS record FROM "
                       f"(SELECT * FROM consolegate.audit WHERE {where} ORDER BY time DESC, id DESC LIMIT {limit}) AS newest "
                       f"ORDER BY time, id")
        return [x["record"] for x in rows]

    def command(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([gw.binary, "audit", "--config", config, *arguments], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    cases = [
        ("no filter", [], "TRUE", 1000),
        (f"--user {bob.name}", ["--user", bob.name], f"user_name = '{bob.name}'", 1000),
        ("--outcome authentication_failed", ["--outcome", "authentication_failed"], "outcome = 'authentication_failed'", 1000),
        ("--outcome success", ["--outcome", "success"], "outcome = 'success'", 1000),
        ("--since 1h", ["--since", "1h"], "time >= now() - interval '1 hour'", 1000),
        ("--limit 7", ["--limit", "7"], "TRUE", 7),
        (f"--user {bob.name} --outcome throttled --limit 3", ["--user", bob.name, "--outcome", "throttled", "--limit", "3"],
         f"user_name = '{bob.name}' AND outcome = 'throttled'", 3),
    ]
    for label, arguments, where, limit in cases:
        done = command(*arguments, "--format", "json")
        if done.returncode != 0:
            check(f"7: consolegate audit {label} --format json exits 0", False, f"{done.returncode}: {done.stderr.strip()}")
            continue
        try:
            shown = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        except ValueError as error:
            check(f"7: consolegate audit {label}: one JSON object per line", False, f"{error}: {done.stdout[:300]!r}")
            continue
        want = expected(where, limit)
        first_difference = next((f"#{i}: shown {s} / row {w}" for i, (s, w) in enumerate(zip(shown, want)) if s != w), "")
        check(f"7: consolegate audit {label} --format json: the {len(want)} rows of consolegate.audit, oldest first",
              shown == want and len(want) > 0, f"{len(shown)} shown, {len(want)} rows; {first_difference}")
        check(f"7: consolegate audit {label}: only the documented keys, none null",
              all(set(s) <= set(AUDIT_KEYS) and None not in s.values() for s in shown))
    check("7: the filters above are not vacuous (--since leaves out the old row; --limit 7 < all rows)",
          len(expected("time >= now() - interval '1 hour'")) == total - 1 and total > 7, f"{total} rows")
    done = command("--format", "table")
    lines = done.stdout.rstrip("\n").split("\n")
    header = lines[0].split() if lines else []
    check("7: consolegate audit --format table: a header line", done.returncode == 0 and header[:3] == ["TIME", "USER", "OUTCOME"],
          f"{done.returncode} {lines[:1]} {done.stderr.strip()}")
    check.equal("7: consolegate audit --format table: one line per row", len(lines) - 1, total)
    done = command("--user", "nobody-at-all", "--format", "json")
    check("7: a filter that matches nothing: exit 0, no output", done.returncode == 0 and done.stdout.strip() == "",
          f"{done.returncode} {done.stdout[:200]!r} {done.stderr.strip()}")

    # consolegate sessions: every replica's sign-ins whose session has not expired (none was revoked here).
    done = subprocess.run([gw.binary, "sessions", "--config", config, "--format", "json"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    live = [x["access_key_id"] for x in db.rows("SELECT access_key_id FROM consolegate.audit WHERE outcome = 'success' AND role IS NOT NULL "
                                                "AND expires > now() ORDER BY time, id")]
    shown = [json.loads(line).get("access_key_id") for line in done.stdout.splitlines() if line.strip()] if done.returncode == 0 else None
    check("7: consolegate sessions: exactly the unexpired sign-ins of consolegate.audit, oldest first",
          shown == live and len(live) > 0, f"{done.returncode} {done.stderr.strip()}: shown {shown}, rows {live}")


# --- 4: one one-time code, two replicas -------------------------------------------------------------------

def check_one_time_code(check, db: Database, a: Gateway, b: Gateway, dave: User) -> None:
    def counts() -> dict:
        return {x["outcome"]: x["n"] for x in db.rows(
            f"SELECT outcome, count(*) AS n FROM consolegate.audit WHERE user_name = '{dave.name}' GROUP BY outcome")}

    def login(gw: Gateway, code: str):
        return api_login(gw.host, gw.port, username=dave.name, password=dave.password, otp=code)

    # Concurrently: the same code to A and B at the same moment.
    code = a.otp(dave.name)
    before = counts()
    barrier = threading.Barrier(2)

    def at_once(gw: Gateway):
        barrier.wait(10)
        return login(gw, code)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(at_once, [a, b]))
    after = counts()
    statuses = sorted(s for s, _ in answers)
    urls = [x for s, x in answers if s == 200 and x and x.get("url")]
    print(f"NOTE the same code on A and B at once: {[s for s, _ in answers]}", flush=True)
    check.equal("4: the same code on A and B concurrently: one 200 with a URL, one 401", (statuses, len(urls)), ([200, 401], 1))
    check.equal("4: ...audited as one success and one code_reused",
                (after.get("success", 0) - before.get("success", 0), after.get("code_reused", 0) - before.get("code_reused", 0)), (1, 1))

    # One after the other: a new code to A, then the same code to B.
    code = a.otp(dave.name)
    before = counts()
    first = login(a, code)
    second = login(b, code)
    after = counts()
    check("4: a new code on A: 200 with a URL", first[0] == 200 and bool((first[1] or {}).get("url")), f"{first}")
    check.equal("4: the same code then on B: 401", second[0], 401)
    check.equal("4: ...audited as one success and one code_reused",
                (after.get("success", 0) - before.get("success", 0), after.get("code_reused", 0) - before.get("code_reused", 0)), (1, 1))
    # Control: B's own PAM stack and the shared state accept a code that was not used before.
    status, answer = login(b, a.otp(dave.name))
    check("4: control: an unused code on B: 200 with a URL", status == 200 and bool((answer or {}).get("url")), f"{status} {answer}")


# --- 5: kill -9 one replica under load through the balancer ----------------------------------------------

class Recorder:
    def __init__(self) -> None:
        self.records: list[dict] = []
        self.lock = threading.Lock()

    def add(self, record: dict) -> None:
        with self.lock:
            self.records.append(record)


def timed_login(send, name: str, password: str, good: bool, worker: int, timeout: float = 30.0) -> dict:
    """One login by `send(timeout, **fields)`, with its start and end (monotonic and wall clock)."""
    record = {"worker": worker, "user": name, "good": good, "start": time.monotonic(), "start_wall": time.time()}
    try:
        status, answer = send(timeout=timeout, username=name, password=password)
        record.update(status=status, answer=answer or {})
    except (OSError, http.client.HTTPException) as error:
        record.update(status=None, answer={}, error=f"{type(error).__name__}: {error}")
    record.update(end=time.monotonic(), end_wall=time.time())
    return record


def is_server_error(record: dict) -> bool:
    return record["status"] is None or record["status"] >= 500


def check_kill_under_load(check, db: Database, proxy: HAProxy, users: dict, federation: str) -> None:
    victim = proxy.gateways[1]
    victim_name = proxy.names[1]
    recorder = Recorder()
    stop = threading.Event()
    retired: list[str] = []

    def good_worker(worker: int, pool: list[User]) -> None:
        pool = list(pool)
        turn = 0
        while not stop.is_set() and pool:
            user = pool[turn % len(pool)]
            turn += 1
            record = timed_login(proxy.api_login, user.name, user.password, True, worker)
            recorder.add(record)
            if is_server_error(record):
                # Its attempt may have been cut off on the killed replica: the attempt's slot holds the name
                # (per_user_in_flight) until it lapses, so this worker goes on with its other names.
                pool.remove(user)
                retired.append(user.name)
            stop.wait(0.02)

    def bad_worker(worker: int, names: list[str]) -> None:
        turn = 0
        while not stop.is_set():
            name = names[turn % len(names)]
            turn += 1
            recorder.add(timed_login(proxy.api_login, name, "not-the-password", False, worker))
            stop.wait(0.02)

    workers = [threading.Thread(target=good_worker, args=(i, users["good"][i]), name=f"good-{i}") for i in range(len(users["good"]))]
    workers += [threading.Thread(target=bad_worker, args=(len(workers) + i, names), name=f"bad-{i}")
                for i, names in enumerate(users["bad"])]
    load_start = time.monotonic()
    for worker in workers:
        worker.start()
    kill_begin = kill_end = down_after = None
    try:
        time.sleep(KILL_AT)  # the moment of the kill in the load's timeline, not a wait for an event
        victim_pid = victim.process.pid
        kill_begin = time.monotonic()
        os.kill(victim_pid, signal.SIGKILL)
        victim.process.wait(10)
        kill_end = time.monotonic()
        print(f"NOTE killed replica {victim.host} (pid {victim_pid}) at {kill_begin - load_start:.1f} s of the load", flush=True)
        if wait_until(lambda: proxy.statuses().get(victim_name, "").startswith("DOWN"), 10, 0.05):
            down_after = time.monotonic() - kill_end
        stop.wait(max(0.0, load_start + LOAD_SECONDS - time.monotonic()))
    finally:
        stop.set()
        for worker in workers:
            worker.join(60)
    records = recorder.records
    print(f"NOTE HAProxy marked {victim.host} DOWN {down_after:.2f} s after the kill" if down_after is not None
          else f"NOTE HAProxy did not mark {victim.host} DOWN within 10 s: {proxy.statuses()}", flush=True)
    check("5: HAProxy marks the killed replica DOWN within 3 s", down_after is not None and down_after < 3, f"{proxy.statuses()}")

    good = [x for x in records if x["good"]]
    bad = [x for x in records if not x["good"]]
    ok = [x for x in good if x["status"] == 200]
    errors = [x for x in records if is_server_error(x)]
    statuses = {}
    for x in records:
        statuses[x["status"]] = statuses.get(x["status"], 0) + 1
    print(f"NOTE {len(records)} requests in {LOAD_SECONDS:.0f} s ({len(good)} right passwords, {len(bad)} wrong): {statuses}; "
          f"names retired after an error: {retired}", flush=True)
    check("5: the load ran: at least 300 sign-ins, and some after the kill",
          len(ok) >= 300 and any(x["start"] > kill_end for x in ok), f"{len(ok)} sign-ins")

    wrong = [x for x in good if not (is_server_error(x) or (x["status"] == 200 and str(x["answer"].get("url", "")).startswith(federation + "?")))]
    wrong += [x for x in bad if not (is_server_error(x) or x["status"] in (401, 429))]
    check("5: no wrong answer (right password: 200 with a URL or 5xx; wrong password: 401/429 or 5xx)", not wrong,
          f"{len(wrong)} wrong, e.g. {wrong[:3]}")

    outside = [x for x in errors if not (x["start"] < kill_end and x["end"] > kill_begin)]
    print(f"NOTE {len(errors)} 5xx/unanswered, in flight at the kill: "
          f"{[(x['status'], round(x['start'] - kill_begin, 3), round(x['end'] - kill_begin, 3)) for x in errors][:10]}", flush=True)
    check("5: every 5xx (or unanswered request) was in flight at the kill; none outside it", not outside,
          f"{len(outside)} outside, e.g. {outside[:3]}")
    check("5: no more 5xx than requests the balancer can have had in flight on the killed replica",
          len(errors) <= len(workers), f"{len(errors)}")

    # Every URL handed out has its audit row: a success row for that user, with a session name and an access
    # key id, written while the request was being answered; one row per 200.
    rows = db.rows("SELECT user_name, session_name, access_key_id, extract(epoch FROM time)::float8 AS t "
                   "FROM consolegate.audit WHERE outcome = 'success' ORDER BY time, id")
    by_user: dict[str, list] = {}
    for row in rows:
        by_user.setdefault(row["user_name"], []).append(row)
    unmatched = []
    for x in sorted(ok, key=lambda x: x["end_wall"]):
        candidates = by_user.get(x["user"], [])
        match = next((row for row in candidates if x["start_wall"] - 0.05 <= row["t"] <= x["end_wall"] + 0.05
                      and row["session_name"] == x["answer"].get("session_name") and row["access_key_id"]), None)
        if match is None:
            unmatched.append(x)
        else:
            candidates.remove(match)
    check(f"5: each of the {len(ok)} URLs has its own success row (user, session name, access key id, time within the request)",
          not unmatched, f"{len(unmatched)} without, e.g. {unmatched[:3]}")
    leftover = sum(len(v) for v in by_user.values())
    print(f"NOTE success rows without a 200 (minted for a request cut off by the kill): {leftover}", flush=True)
    check("5: success rows without a delivered URL only for requests cut off by the kill", leftover <= len(errors), f"{leftover}")


# --- 6: PostgreSQL stopped under load --------------------------------------------------------------------

def check_postgres_outage(check, pg: Postgres, db: Database, gateways: list[Gateway], load_users: list[User], probes: list[User]) -> None:
    recorder = Recorder()
    stop = threading.Event()
    pids = [gw.process.pid for gw in gateways]

    def worker(index: int, user: User) -> None:
        turn = index
        while not stop.is_set():
            gw = gateways[turn % len(gateways)]
            turn += 1
            recorder.add(timed_login(lambda timeout, **f: api_login(gw.host, gw.port, timeout=timeout, **f),
                                     user.name, user.password, True, index, timeout=15))
            stop.wait(0.05)

    workers = [threading.Thread(target=worker, args=(i, u), name=f"pg-load-{i}") for i, u in enumerate(load_users)]
    for thread in workers:
        thread.start()
    stop_begin = stop_end = start_begin = start_end = None
    degraded: dict[str, tuple[float, dict]] = {}
    try:
        # Until every worker has signed in at least once: the load is established.
        running = wait_until(lambda: {x["worker"] for x in recorder.records if x["status"] == 200} >= set(range(len(load_users))), 15)
        if not running:
            raise AssertionError(f"the load did not get going: {recorder.records[:5]}")
        stop_begin = time.monotonic()
        pg.ctl("stop")
        stop_end = time.monotonic()
        print(f"NOTE PostgreSQL stopped (pg_ctl stop -m fast took {stop_end - stop_begin:.2f} s)", flush=True)

        def health_turned() -> bool:
            for gw in gateways:
                if gw.host in degraded:
                    continue
                try:
                    status, _, body = gw.http("GET", "/healthz", timeout=2)
                except OSError:
                    continue
                if status == 503:
                    try:
                        answer = json.loads(body)
                    except ValueError:
                        answer = {"unparsed": body.decode("utf-8", "replace")}
                    degraded[gw.host] = (time.monotonic() - stop_end, answer)
            return len(degraded) == len(gateways)

        wait_until(health_turned, 6, 0.05)
        # Keep the load on with the database down for at least 3 s, and until each worker has had two answers
        # to logins started after the stop (at most 10 s).
        wanted = 2 * len(load_users)
        wait_until(lambda: time.monotonic() >= stop_end + 3.0
                   and sum(1 for x in list(recorder.records) if x["start"] >= stop_end) >= wanted, 10, 0.05)
        stop.set()
        for thread in workers:
            thread.join(30)
        start_begin = time.monotonic()
    finally:
        stop.set()
        if not pg.is_up():
            pg.ctl("start")
        start_end = time.monotonic()
    print(f"NOTE PostgreSQL started again (pg_ctl start took {start_end - (start_begin or start_end):.2f} s)", flush=True)

    for gw in gateways:
        after, body = degraded.get(gw.host, (None, {}))
        check(f"6: /healthz on {gw.host} turns 503 degraded (reason postgres: …) within 3 s",
              after is not None and after <= 3.0 and body.get("status") == "degraded" and str(body.get("reason", "")).startswith("postgres:"),
              f"after {after} s: {body}")
        if after is not None:
            print(f"NOTE {gw.host} /healthz degraded {after:.2f} s after PostgreSQL was down: {body}", flush=True)

    records = recorder.records
    while_down = [x for x in records if x["start"] >= stop_end]
    in_flight = [x for x in records if x["start"] < stop_end and x["end"] > stop_begin]
    slow = [x for x in while_down if x["end"] - x["start"] >= STATE_TIMEOUT + STATE_TIMEOUT_MARGIN]
    worst = max((x["end"] - x["start"] for x in while_down), default=0.0)
    print(f"NOTE {len(while_down)} logins while PostgreSQL was down: {sorted({x['status'] for x in while_down}, key=str)}; "
          f"slowest answer {worst * 1000:.0f} ms; {len(in_flight)} in flight at the stop: {[x['status'] for x in in_flight]}", flush=True)
    check(f"6: logins were tried while PostgreSQL was down (at least {2 * len(load_users)})", len(while_down) >= 2 * len(load_users),
          f"{len(while_down)}")
    check("6: every login while PostgreSQL was down: 503 with a JSON error",
          all(x["status"] == 503 and "error" in x["answer"] for x in while_down),
          f"{[(x['status'], x['answer']) for x in while_down if x['status'] != 503 or 'error' not in x['answer']][:5]}")
    check(f"6: ...each answered within state.postgres.timeout + {STATE_TIMEOUT_MARGIN:g} s "
          f"({STATE_TIMEOUT + STATE_TIMEOUT_MARGIN:g} s; slowest {worst * 1000:.0f} ms)", not slow,
          f"{[(x['status'], round(x['end'] - x['start'], 2)) for x in slow][:5]}")
    check("6: no URL issued while PostgreSQL was down (no 200 for a login started after the stop)",
          not any(x["status"] == 200 for x in while_down))
    check("6: logins in flight at the stop: 200 with a URL or 503, nothing else",
          all((x["status"] == 200 and x["answer"].get("url")) or x["status"] == 503 for x in in_flight),
          f"{[(x['status'], x.get('error')) for x in in_flight]}")

    # Back: every replica signs in again within 5 s, with no restart.
    for gw, user in zip(gateways, probes):
        tries: list = []

        def signed_in():
            status, answer = api_login(gw.host, gw.port, timeout=10, username=user.name, password=user.password)
            tries.append(status)
            return status == 200 and bool((answer or {}).get("url"))

        ok = wait_until(signed_in, 5.0 - (time.monotonic() - start_end), 0.1)
        took = time.monotonic() - start_end
        check(f"6: {gw.host} signs in again within 5 s of PostgreSQL's start ({took:.2f} s; answers {tries})", bool(ok) and took < 5.0,
              f"{tries}")
    def healthy(gw: Gateway) -> bool:
        try:
            return gw.http("GET", "/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    for gw in gateways:
        ok = wait_until(lambda: healthy(gw), max(0.1, 5.0 - (time.monotonic() - start_end)), 0.1)
        check(f"6: {gw.host} /healthz back to 200 within 5 s", bool(ok))
    check("6: no replica restarted (same processes, all running)",
          [gw.process.pid for gw in gateways] == pids and all(gw.process.poll() is None for gw in gateways))
    rows = db.scalar(f"SELECT count(*) FROM consolegate.audit WHERE outcome = 'success' AND user_name IN "
                     f"({', '.join(repr(u.name) for u in probes)})")
    check.equal("6: the sign-ins after the outage are audited", rows, len(probes))


# --- 8: the hardened setup: an owner role migrates, the service role may only append ---------------------

def check_hardened_roles(check, pg: Postgres, db: Database, users: list[User], rules: list[Rule]) -> None:
    service = db.name + "_service"
    db.add_role(service)
    gw = Gateway(users, rules, host=REPLICA_HOSTS[0], postgres=db.settings(service), system_pam=True)
    # The replica's own config (as Gateway writes it) for `consolegate migrate`, before the replica starts.
    gw.directory = tempfile.mkdtemp(prefix="consolegate-ha-migrate-")
    os.chmod(gw.directory, 0o755)
    try:
        config = gw._write_files()
        done = subprocess.run([gw.binary, "migrate", "--config", config, "--url", db.url(db.owner), "--grant-to", service],
                              env=dict(os.environ, PGPASSWORD=db.passwords[db.owner]), capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(gw.directory, ignore_errors=True)
        gw.directory = None
    check("8: consolegate migrate --url postgres://owner@… --grant-to service: exit 0", done.returncode == 0,
          f"{done.returncode}: {done.stdout.strip()} {done.stderr.strip()}")
    print(f"NOTE migrate said: {done.stdout.strip()}", flush=True)
    check.equal("8: schema_version: version 1, applied by the owner role",
                [(x["version"], x["applied_by"]) for x in db.rows("SELECT version, applied_by FROM consolegate.schema_version")],
                [(1, db.owner)])

    def as_service(sql: str) -> subprocess.CompletedProcess:
        return pg.psql(sql, db.name, user=service, password=db.passwords[service])

    done = as_service("INSERT INTO consolegate.audit (time, request_id, front_end, user_name, client, outcome, detail) "
                      "VALUES (now(), 'ha-test', 'api', 'svc-check', '127.0.0.1', 'authentication_failed', 'inserted as the service role')")
    check("8: the service role may INSERT into consolegate.audit", done.returncode == 0, done.stderr.strip())
    done = as_service("SELECT count(*) FROM consolegate.audit")
    check("8: the service role may SELECT from consolegate.audit", done.returncode == 0 and done.stdout.strip() == "1",
          f"{done.stdout.strip()} {done.stderr.strip()}")
    for statement in ("DELETE FROM consolegate.audit", "UPDATE consolegate.audit SET user_name = 'x'", "TRUNCATE consolegate.audit"):
        done = as_service(statement)
        check(f"8: the service role: {statement}: permission denied", done.returncode != 0 and "permission denied" in done.stderr,
              f"{done.returncode} {done.stderr.strip()}")
    check.equal("8: the row is still there, unchanged",
                db.rows("SELECT user_name FROM consolegate.audit"), [{"user_name": "svc-check"}])

    try:
        gw.start()
        status, answer = api_login(gw.host, gw.port, username=users[0].name, password=users[0].password)
        check("8: a replica running as the service role starts (healthy) and serves a login: 200 with a URL",
              status == 200 and bool((answer or {}).get("url")), f"{status} {answer}")
        check("8: ...without doing any DDL (no migration in its log; still one schema_version row)",
              "applied schema migration" not in gw.log and db.scalar("SELECT count(*) FROM consolegate.schema_version") == 1)
        check.equal("8: its sign-in is in the trail", db.scalar(
                f"SELECT count(*) FROM consolegate.audit WHERE outcome = 'success' AND user_name = '{users[0].name}'"), 1)
    finally:
        stop_replica(gw)




# --- the tests --------------------------------------------------------------------------------------------

BOB = User("bob", "bob-ha-pw", groups=["staff"])
CAROL = User("carol", "carol-ha-pw", groups=["staff", "aws-admins"])
DAVE = User("dave", "dave-ha-pw", groups=["staff"])
ERIN = User("erin", "erin-ha-pw", groups=["staff"])
# 5: right-password names are each used by one worker only; wrong passwords go to names of their own.
GOOD = [[User(f"ok{w}x{i}", f"ok{w}x{i}-pw", groups=["staff"]) for i in range(4)] for w in range(4)]
WRONG_REAL = [User(f"mallory{i}", f"mallory{i}-pw", groups=["staff"]) for i in range(3)]
# 6: the load, and a probe per replica for the way back.
LOAD_USERS = [User(f"steady{i}", f"steady{i}-pw", groups=["staff"]) for i in range(3)]
PROBES = [User(f"probe{i}", f"probe{i}-pw", groups=["staff"]) for i in range(3)]
EVERYONE = [BOB, CAROL, DAVE, ERIN, *[u for pool in GOOD for u in pool], *WRONG_REAL, *LOAD_USERS, *PROBES]


@pytest.fixture(scope="module")
def pg():
    """The throwaway PostgreSQL, after checking what every test needs; started again at the end if a test left
    it stopped."""
    if os.getuid() != 0:
        raise SetupError("run as root: the replicas drop to the consolegate user, as in production")
    if not shutil.which("haproxy"):
        raise SetupError("haproxy is not installed (apt-get install haproxy)")
    binary()
    pg = Postgres()
    if not pg.is_up():
        raise SetupError(f"PostgreSQL does not answer on 127.0.0.1:{pg.port}")
    try:
        yield pg
    finally:
        if not pg.is_up():
            print("NOTE PostgreSQL was down at the end: starting it again", flush=True)
            pg.ctl("start")


@pytest.fixture(scope="module", autouse=True)
def accounts(pg):
    """Every test's users, as throwaway accounts of this host."""
    with SystemAccounts(EVERYONE) as accounts:
        yield accounts


class TestSharedDatabase:
    """1, 3, 2, 7: three replicas on one new database, HAProxy in front for the guesses. The tests run in this
    order and build on each other: 7 reads the rows that 3 and 2 wrote."""

    PER_USER = 5

    @pytest.fixture(scope="class")
    def shared(self, pg):
        """The database, how many consolegate schemas it had before the replicas started (1 checks that it was
        none), and the replicas, started at the same moment: (gateways, start errors)."""
        rules = [Rule(role("ConsoleAdmin"), groups=["aws-admins"]), Rule(role("ConsoleReadOnly"), groups=["staff"])]
        with Database(pg, "shared") as db:
            schemas = db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'consolegate'")
            with replicas([BOB, CAROL], rules, db, per_user=self.PER_USER, failure_floor="200ms") as (gateways, errors):
                yield SimpleNamespace(db=db, schemas_before_start=schemas, gateways=gateways, errors=errors)

    def test_1_simultaneous_start(self, shared, check):
        """Three replicas start together on an empty database; the schema is created once."""
        check.equal("1: the database is empty (no schema consolegate) before the start", shared.schemas_before_start, 0)
        check_simultaneous_start(check, shared.db, shared.gateways, shared.errors)

    def test_3_role_choice_across_replicas(self, shared, check):
        """A web role choice made on A, finished on B, replayed on C."""
        check_web_role_choice(check, shared.db, started(shared.gateways, shared.errors, "3"), CAROL)

    def test_2_concurrent_guesses_through_the_balancer(self, shared, check):
        """200 concurrent wrong guesses through the balancer."""
        with HAProxy(started(shared.gateways, shared.errors, "2")) as proxy:
            check_brute_force(check, shared.db, proxy, BOB, self.PER_USER)

    def test_7_audit_command(self, shared, check):
        """consolegate audit (and sessions) against consolegate.audit."""
        check_audit_command(check, shared.db, started(shared.gateways, shared.errors, "7")[0], BOB)


def test_4_one_time_code_on_two_replicas(pg, check):
    """One one-time code on two replicas with their own pam_oath files."""
    with Database(pg, "otp") as db:
        # per_user_in_flight 2: both concurrent attempts reach PAM (with 1 the second would be throttled first).
        with replicas([DAVE], [Rule(role("ConsoleReadOnly"), groups=["staff"])], db, hosts=REPLICA_HOSTS[:2],
                      secrets=("password", "otp"), per_user=20, lockout_extra=("per_user_in_flight: 2",)) as (gateways, errors):
            a, b = started(gateways, errors, "4")
            check_one_time_code(check, db, a, b, DAVE)


def test_8_hardened_roles(pg, check):
    """The owner role migrates; the service role may only append to the trail."""
    with Database(pg, "hardened") as db:
        check_hardened_roles(check, pg, db, [ERIN], [Rule(role("ConsoleReadOnly"), groups=["staff"])])


def test_5_kill_under_load(pg, check):
    """kill -9 of a replica during 60 s of logins through the balancer. Every request through HAProxy comes from
    127.0.0.1, so the address limits are raised; a right-password name is used by one worker only
    (per_user_in_flight 1), wrong-password traffic has names of its own (real users and unknown names)."""
    federation = os.environ["CONSOLEGATE_TEST_FEDERATION_URL"]
    bad = [[u.name for u in WRONG_REAL], [f"nobody{i}" for i in range(3)]]
    with Database(pg, "kill") as db:
        with replicas([u for pool in GOOD for u in pool] + WRONG_REAL, [Rule(role("ConsoleBilling"), groups=["staff"])], db,
                      per_user=1000, failure_floor="200ms",
                      lockout_extra=("per_address: 100000", "per_address_in_flight: 64")) as (gateways, errors):
            with HAProxy(started(gateways, errors, "5")) as proxy:
                check_kill_under_load(check, db, proxy, {"good": GOOD, "bad": bad}, federation)


def test_6_postgres_outage(pg, check):
    """PostgreSQL stopped and started under load, straight to the replicas."""
    with Database(pg, "outage") as db:
        with replicas(LOAD_USERS + PROBES, [Rule(role("ConsoleReadOnly"), groups=["staff"])], db,
                      lockout_extra=("per_address_in_flight: 64",)) as (gateways, errors):
            check_postgres_outage(check, pg, db, started(gateways, errors, "6"), LOAD_USERS, PROBES)
