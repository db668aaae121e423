"""docs/openapi.yaml against a real `consolegate serve`: the document must say what the daemon answers.

    python3 -m pytest -p no:cacheprovider Tests/Web/openapi_test.py

Needs the AWS stand-ins (CONSOLEGATE_TEST_* from scripts/test.sh or scripts/lib/standins.sh) and the binary
(CONSOLEGATE_BIN or .build/debug/consolegate). Meant to run as root, like scripts/test.sh: the daemon then starts
as root and gives it up, and test_socket_url_as_a_user connects to the socket as the test users (skipped
otherwise). About 15 s on two busy cores.

- test_document_is_valid: the document is valid OpenAPI 3.0 and schemathesis loads it.
- test_conformance: schemathesis generates requests for every operation (the JSON API, the web form, /healthz,
  /metrics on its own listener, and the /v1 routes on the Unix socket) and checks each answer: a documented
  status, a documented content type, the documented headers, and a body that matches the schema. The answer
  schemas have additionalProperties: false, so an added, renamed or dropped key fails. Generated logins come
  from 127.0.0.1 and lock it out; the 429s must conform too. CONSOLEGATE_OPENAPI_EXAMPLES sets the number of
  generated examples per operation (default 25).
- the rest: answers schemathesis will not reach by chance (a URL, credentials, a role choice, a form sign-in,
  the socket as a real user, ...), each sent from an address of its own and checked the same way.
"""

from __future__ import annotations

import base64
import http.cookiejar
import http.client
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time

import pytest
import requests
import schemathesis
import urllib3
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.specs.openapi.checks import (
    content_type_conformance, ignored_auth, missing_required_header, negative_data_rejection,
    response_headers_conformance, response_schema_conformance, status_code_conformance)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# CONSOLEGATE_OPENAPI_DOCUMENT: another copy of the document (e.g. to see that a changed key fails).
DOCUMENT = os.environ.get("CONSOLEGATE_OPENAPI_DOCUMENT") or os.path.join(ROOT, "docs", "openapi.yaml")
sys.path.insert(0, HERE)
from gateway_fixture import Gateway, Rule, User, role  # noqa: E402

EXAMPLES = int(os.environ.get("CONSOLEGATE_OPENAPI_EXAMPLES", "25"))
# Hypothesis keeps caches (constants, Unicode tables) in ./.hypothesis; not in the tree.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "consolegate-hypothesis"))

# What the document promises about one answer, whatever the request was. (Not not_a_server_error: 502 and 503
# are documented answers; an undocumented 500 fails status_code_conformance.)
CONFORMANCE = [status_code_conformance, content_type_conformance, response_headers_conformance,
               response_schema_conformance]
# For generated requests also: invalid input is refused, and GET /api/v1/roles refuses a request without its
# Authorization (or with a made-up one). Not unsupported_method: the daemon answers 404, not 405, to a method a
# path does not list (test_unlisted_methods_are_404).
GENERATED = CONFORMANCE + [negative_data_rejection, ignored_auth, missing_required_header]

CONFIG = schemathesis.Config.from_dict({
    "generation": {"database": "none", "max-examples": EXAMPLES},
    "phases": {"stateful": {"enabled": False}},
    "checks": {
        "unsupported_method": {"enabled": False},
        "positive_data_acceptance": {"enabled": False},
        # Unknown keys are ignored (documented), so an invalid login can still end in 401 or 429.
        "negative_data_rejection": {"expected-statuses": [400, 401, 403, 413, 415, 429]},
    },
})
SCHEMA = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)

SOCKET_PATHS = ("/v1/url", "/v1/unlock", "/v1/revoke")
SOCKET_BASE = "http://localhost"
# Explicit cases connect from addresses of their own: the generated logins lock 127.0.0.1 out.
POSITIVE_SOURCE = "127.0.0.2"
LOCKOUT_SOURCE = "127.0.0.3"
CROSS_SITE_SOURCE = "127.0.0.4"
PER_USER = 3


# --- transports --------------------------------------------------------------------------------------------

class SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connects from the given loopback address (its own lockout budget)."""

    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class UnixSocketAdapter(requests.adapters.HTTPAdapter):
    """HTTP over the daemon's Unix socket, for any URL mounted on it (the host name is not used)."""

    def __init__(self, path: str):
        super().__init__()

        class Connection(urllib3.connection.HTTPConnection):
            def _new_conn(self):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(30)
                sock.connect(path)
                return sock

        class Pool(urllib3.connectionpool.HTTPConnectionPool):
            ConnectionCls = Connection

        self._pool = Pool("localhost")

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        return self._pool

    def close(self):
        self._pool.close()
        super().close()


def session_from(source: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    adapter = SourceAddressAdapter(source)
    session.mount("http://", adapter)
    return session


def socket_session(path: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.mount(SOCKET_BASE + "/", UnixSocketAdapter(path))
    return session


def socket_request_as(gw, uid: int, gid: int, method: str, path: str, body: dict | None = None):
    """One request on the Unix socket from a connection made by `uid`: the daemon reads the uid of whoever
    connected (SO_PEERCRED), so a child process takes the uid, connects, and leaves the socket to us."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            sock.connect(gw.socket_path)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert status == 0, f"could not connect to {gw.socket_path} as uid {uid}"
    connection = http.client.HTTPConnection("localhost")
    connection.sock = sock
    try:
        data = json.dumps(body or {}).encode()
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        content = answer.read()
        headers: dict[str, list[str]] = {}
        for name, value in answer.getheaders():
            headers.setdefault(name, []).append(value)
        prepared = requests.Request(method, SOCKET_BASE + path, data=data, headers={"Content-Type": "application/json"}).prepare()
        return schemathesis.Response(status_code=answer.status, headers=headers, content=content, request=prepared,
                                     elapsed=0.0, verify=True, message=answer.reason)
    finally:
        connection.close()


# --- the daemon --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gateway():
    """One daemon for the module: two roles, one of them with a one-time-code step-up; the login listener, the
    metrics listener and a Unix socket anyone may connect to (mode 0666, so that test users can)."""
    socket_dir = tempfile.mkdtemp(prefix="consolegate-openapi-")
    os.chmod(socket_dir, 0o755)
    socket_path = os.path.join(socket_dir, "consolegate.sock")
    read_only, admin = role("ConsoleReadOnly"), role("ConsoleAdmin")
    users = [User("oa-alice", "alice-openapi-pw", groups=["oa-staff"]),
             User("oa-carol", "carol-openapi-pw", groups=["oa-staff", "oa-admins"]),
             User("oa-dave", "dave-openapi-pw")]
    rules = [Rule(read_only, groups=["oa-staff"], label="Read only"),
             Rule(admin, groups=["oa-admins"], label="Administrator", step_up_otp=True)]
    try:
        with Gateway(users, rules, failure_floor="20ms", per_user=PER_USER,
                     listen_extra=(f"socket: {socket_path}", 'socket_mode: "0666"'),
                     lockout_extra=("per_address: 10",)) as gw:
            gw.socket_path = socket_path
            gw.metrics_url = f"http://{gw.host}:{gw.metrics_port}"
            gw.read_only, gw.admin = read_only, admin
            gw.people = {u.name: u for u in users}
            sessions = {"default": requests.Session(), "socket": socket_session(socket_path),
                        "positive": session_from(POSITIVE_SOURCE), "lockout": session_from(LOCKOUT_SOURCE),
                        "cross-site": session_from(CROSS_SITE_SOURCE)}
            for session in sessions.values():
                session.trust_env = False
                # No cookie jar: each request carries exactly the cookies its case names.
                session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            gw.sessions = sessions
            try:
                yield gw
            finally:
                for session in sessions.values():
                    session.close()
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)


def base_url(gw, path: str) -> str:
    if path in SOCKET_PATHS:
        return SOCKET_BASE
    if path == "/metrics":
        return gw.metrics_url
    return gw.url


def send(gw, path: str, method: str, *, session: str = "positive", expect: int | None = None, **case_fields):
    """A case for the operation, sent and checked against the document; the answer (schemathesis.Response)."""
    case = SCHEMA[path][method].Case(**case_fields)
    if path in SOCKET_PATHS:
        session = "socket"
    response = case.call(base_url=base_url(gw, path), session=gw.sessions[session], allow_redirects=False, timeout=60)
    case.validate_response(response, checks=CONFORMANCE)
    if expect is not None:
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.content[:500]!r}"
    return response


def check_socket_answer(path: str, response) -> None:
    SCHEMA[path]["POST"].Case(body={}, media_type="application/json").validate_response(response, checks=CONFORMANCE)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def hidden_field(page: str, name: str) -> str:
    match = re.search(r'<input type="hidden" name="' + re.escape(name) + r'" value="([^"]*)">', page)
    assert match, f"no hidden field {name} in {page[:2000]}"
    return match.group(1)


def csrf_token(gw) -> str:
    """GET / as a new browser: the CSRF cookie it sets (validated as every answer is)."""
    response = send(gw, "/", "GET", expect=200)
    match = re.match(r"consolegate_csrf=([^;]+);", response.headers["set-cookie"][0])
    assert match, response.headers["set-cookie"]
    return match.group(1)


# --- the document ------------------------------------------------------------------------------------------

def test_document_is_valid():
    import yaml
    from openapi_spec_validator import validate

    with open(DOCUMENT) as f:
        validate(yaml.safe_load(f))
    operations = {(op.path, op.method.upper()) for op in (r.ok() for r in SCHEMA.get_all_operations())}
    assert operations == {
        ("/api/v1/login", "POST"), ("/api/v1/roles", "GET"), ("/api/v1/roles", "POST"), ("/api/v1/info", "GET"),
        ("/healthz", "GET"), ("/metrics", "GET"), ("/", "GET"), ("/static/consolegate.css", "GET"),
        ("/login", "POST"), ("/login/role", "POST"), ("/v1/url", "POST"), ("/v1/unlock", "POST"), ("/v1/revoke", "POST"),
    }


# --- generated requests ------------------------------------------------------------------------------------

@SCHEMA.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES)
def test_conformance(case, gateway):
    if case.path in ("/login", "/login/role") and isinstance(case.body, dict) and "csrf" in case.body:
        # A random token is refused (403) before anything else; a real one lets the form's own answers through.
        token = fuzzing_csrf(gateway)
        case.body["csrf"] = token
        case.cookies = {**(case.cookies or {}), "consolegate_csrf": token}
    session = gateway.sessions["socket" if case.path in SOCKET_PATHS else "default"]
    case.call_and_validate(base_url=base_url(gateway, case.path), session=session, checks=GENERATED, timeout=60)


def fuzzing_csrf(gw) -> str:
    if getattr(gw, "fuzzing_csrf", None) is None:
        response = gw.sessions["default"].get(gw.url + "/", timeout=60)
        gw.fuzzing_csrf = re.match(r"consolegate_csrf=([^;]+);", response.headers["Set-Cookie"]).group(1)
    return gw.fuzzing_csrf


# --- the JSON API ------------------------------------------------------------------------------------------

def test_api_login_url(gateway):
    alice = gateway.people["oa-alice"]
    response = send(gateway, "/api/v1/login", "POST", expect=200, media_type="application/json",
                    body={"username": alice.name, "password": alice.password})
    answer = response.json()
    assert set(answer) == {"url", "expires_at", "role_arn", "session_name", "device_token"}
    assert answer["url"].startswith(os.environ["CONSOLEGATE_TEST_FEDERATION_URL"])
    assert answer["role_arn"] == gateway.read_only


def test_api_login_credential_process(gateway):
    alice = gateway.people["oa-alice"]
    response = send(gateway, "/api/v1/login", "POST", expect=200, media_type="application/json",
                    body={"username": alice.name, "password": alice.password, "format": "credential-process",
                          "logout_first": "true"})
    assert response.json()["Version"] == 1
    assert "device_token" in response.json()


def test_api_login_refusals(gateway):
    alice = gateway.people["oa-alice"]
    refused = send(gateway, "/api/v1/login", "POST", expect=403, media_type="application/json",
                   body={"username": alice.name, "password": alice.password, "role": gateway.admin})
    assert refused.json()["allowed_roles"] == [gateway.read_only]
    json_body = {"media_type": "application/json", "body": {"username": alice.name, "password": alice.password}}
    send(gateway, "/api/v1/login", "POST", expect=400, media_type="application/json", body={"username": alice.name})
    too_long = send(gateway, "/api/v1/login", "POST", expect=400, media_type="application/json",
                    body={"username": "x" * 300, "password": "x"})
    assert too_long.json()["error"] == "username must be at most 256 bytes, without control characters"
    # A missing password is a malformed request, on the role list too: no guess is spent.
    send(gateway, "/api/v1/roles", "POST", expect=400, media_type="application/json", body={"username": alice.name})
    send(gateway, "/api/v1/login", "POST", expect=400, media_type="application/json",
         body={"username": alice.name, "password": alice.password, "format": "yaml"})
    send(gateway, "/api/v1/login", "POST", expect=400, media_type="application/json",
         body={"username": alice.name, "password": alice.password, "destination": "not a URL"})
    send(gateway, "/api/v1/login", "POST", expect=400, media_type="application/json",
         body={"username": alice.name, "password": True})
    send(gateway, "/api/v1/login", "POST", expect=200, headers={"Origin": gateway.url}, **json_body)
    send(gateway, "/api/v1/login", "POST", expect=415, media_type="text/plain", body="username=x")
    send(gateway, "/api/v1/login", "POST", expect=413, media_type="application/json",
         body={"username": alice.name, "password": "x" * 17000})


def test_api_lockout(gateway):
    """Wrong passwords for one name: 401 each, until the lock answers 429; both as documented."""
    statuses = []
    for _ in range(PER_USER + 1):
        response = send(gateway, "/api/v1/login", "POST", session="lockout", media_type="application/json",
                        body={"username": "oa-mallory", "password": "guess"})
        statuses.append(response.status_code)
    assert statuses == [401] * PER_USER + [429]
    assert response.json() == {"error": "too many sign-in attempts; try again later", "failure": "locked_out"}


def test_roles_several(gateway):
    carol = gateway.people["oa-carol"]
    response = send(gateway, "/api/v1/roles", "GET", expect=200, headers={"Authorization": basic(carol.name, carol.password)})
    answer = response.json()
    assert answer["roles"] == [gateway.read_only, gateway.admin]
    assert answer["offers"] == [
        {"role": gateway.read_only, "label": "Read only", "step_up_secrets": []},
        {"role": gateway.admin, "label": "Administrator", "step_up_secrets": ["otp"]},
    ]
    posted = send(gateway, "/api/v1/roles", "POST", expect=200, media_type="application/json",
                  body={"username": carol.name, "password": carol.password})
    assert posted.json() == answer
    send(gateway, "/api/v1/roles", "GET", expect=401)
    send(gateway, "/api/v1/roles", "GET", expect=401, headers={"Authorization": "Bearer x"})


def test_info(gateway):
    response = send(gateway, "/api/v1/info", "GET", expect=200)
    assert response.json() == {"secrets": ["password"], "step_up_secrets": ["otp"], "logout_first": False}


def test_healthz_and_stylesheet(gateway):
    assert send(gateway, "/healthz", "GET", expect=200).json() == {"status": "ok"}
    send(gateway, "/static/consolegate.css", "GET", expect=200)


@pytest.mark.parametrize("path, method", [
    ("/api/v1/login", "POST"), ("/api/v1/roles", "GET"), ("/api/v1/roles", "POST"), ("/api/v1/info", "GET"),
    ("/healthz", "GET"), ("/", "GET"), ("/static/consolegate.css", "GET"), ("/login", "POST"), ("/login/role", "POST")])
def test_cross_site_refused(gateway, path, method):
    """Every route of the login listener refuses what a browser sends for another site, in JSON."""
    fields = {}
    if method == "POST":
        form = path.startswith("/login")
        fields = {"media_type": "application/x-www-form-urlencoded" if form else "application/json",
                  "body": {"csrf": "x", "pending": "x", "role": "x"} if form else {"username": "oa-nobody", "password": "x"}}
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://elsewhere.example"}, {"Origin": ""}):
        response = send(gateway, path, method, session="cross-site", expect=403, headers=headers, **fields)
        assert response.json() == {"error": "cross-site request refused", "failure": "cross_site"}
    # A form's own POST from Chromium: Origin null, but Sec-Fetch-Site same-origin.
    response = send(gateway, path, method, session="cross-site", headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
                    **fields)
    assert b'"failure":"cross_site"' not in response.content


def test_metrics(gateway):
    response = send(gateway, "/metrics", "GET", expect=200, session="default")
    assert "consolegate_logins_total" in response.text


# --- the web form ------------------------------------------------------------------------------------------

def test_form_login_one_role(gateway):
    alice = gateway.people["oa-alice"]
    csrf = csrf_token(gateway)
    response = send(gateway, "/login", "POST", expect=303, media_type="application/x-www-form-urlencoded",
                    cookies={"consolegate_csrf": csrf},
                    body={"csrf": csrf, "username": alice.name, "password": alice.password, "logout_first": "true"})
    # logout_first: the console's logout first, which then leads to the sign-in endpoint.
    assert "Action=logout" in response.headers["location"][0]


def test_form_login_role_choice_and_step_up(gateway):
    carol = gateway.people["oa-carol"]
    csrf = csrf_token(gateway)
    cookies = {"consolegate_csrf": csrf}
    chooser = send(gateway, "/login", "POST", expect=200, media_type="application/x-www-form-urlencoded", cookies=cookies,
                   body={"csrf": csrf, "username": carol.name, "password": carol.password})
    pending = hidden_field(chooser.text, "pending")
    form = {"csrf": csrf, "pending": pending, "role": gateway.admin}
    step_up = send(gateway, "/login/role", "POST", expect=200, media_type="application/x-www-form-urlencoded",
                   cookies=cookies, body=form)
    assert hidden_field(step_up.text, "pending") == pending
    send(gateway, "/login/role", "POST", expect=303, media_type="application/x-www-form-urlencoded", cookies=cookies,
         body={**form, "otp": gateway.otp(carol.name)})
    # The token is spent.
    send(gateway, "/login/role", "POST", expect=403, media_type="application/x-www-form-urlencoded", cookies=cookies,
         body={**form, "otp": gateway.otp(carol.name)})


def test_form_refusals(gateway):
    alice = gateway.people["oa-alice"]
    csrf = csrf_token(gateway)
    form = {"csrf": csrf, "username": alice.name, "password": alice.password}
    page = send(gateway, "/login", "POST", expect=403, media_type="application/x-www-form-urlencoded", body=form)
    assert page.headers["content-type"][0].startswith("text/html")
    send(gateway, "/login", "POST", expect=400, media_type="application/x-www-form-urlencoded",
         cookies={"consolegate_csrf": csrf}, body={"csrf": csrf, "username": alice.name})
    send(gateway, "/login", "POST", expect=401, media_type="application/x-www-form-urlencoded",
         cookies={"consolegate_csrf": csrf}, body={**form, "password": "wrong"})
    send(gateway, "/login", "POST", expect=403, media_type="application/x-www-form-urlencoded",
         cookies={"consolegate_csrf": csrf}, body={**form, "role": gateway.admin})
    send(gateway, "/login", "POST", expect=415, media_type="application/json", body=form)
    send(gateway, "/login/role", "POST", expect=403, media_type="application/x-www-form-urlencoded",
         cookies={"consolegate_csrf": csrf}, body={"csrf": csrf, "pending": "x", "role": gateway.read_only})
    # A field given twice: 400 in JSON, before the CSRF check.
    duplicate = requests.Request("POST", gateway.url + "/login", data="csrf=a&csrf=b",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}).prepare()
    raw = gateway.sessions["positive"].send(duplicate, allow_redirects=False, timeout=60)
    case = SCHEMA["/login"]["POST"].Case(body={}, media_type="application/x-www-form-urlencoded")
    case.validate_response(raw, checks=CONFORMANCE)
    assert raw.status_code == 400 and raw.json() == {"error": "a form field appears twice", "failure": "invalid_request"}


# --- the Unix socket ---------------------------------------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="connecting to the socket as the test users' uids needs root")
def test_socket_url_as_a_user(gateway):
    alice, carol, dave = (gateway.people[n] for n in ("oa-alice", "oa-carol", "oa-dave"))
    granted = socket_request_as(gateway, alice.uid, alice.uid, "POST", "/v1/url", {})
    check_socket_answer("/v1/url", granted)
    assert granted.status_code == 200 and set(granted.json()) == {"url", "expires_at", "role_arn", "session_name"}
    credentials = socket_request_as(gateway, alice.uid, alice.uid, "POST", "/v1/url", {"format": "credential-process"})
    check_socket_answer("/v1/url", credentials)
    assert credentials.status_code == 200 and credentials.json()["Version"] == 1
    # As on the API, another format is a 400.
    other_format = socket_request_as(gateway, alice.uid, alice.uid, "POST", "/v1/url", {"format": "yaml"})
    check_socket_answer("/v1/url", other_format)
    assert other_format.status_code == 400 and other_format.json()["failure"] == "invalid_request"
    other_role = socket_request_as(gateway, alice.uid, alice.uid, "POST", "/v1/url", {"role": gateway.admin})
    check_socket_answer("/v1/url", other_role)
    assert other_role.status_code == 403 and other_role.json()["allowed_roles"] == [gateway.read_only]
    step_up = socket_request_as(gateway, carol.uid, carol.uid, "POST", "/v1/url", {"role": gateway.admin})
    check_socket_answer("/v1/url", step_up)
    assert step_up.status_code == 403 and step_up.json()["secrets"] == ["password", "otp"]
    no_role = socket_request_as(gateway, dave.uid, dave.uid, "POST", "/v1/url", {})
    check_socket_answer("/v1/url", no_role)
    assert no_role.status_code == 403 and no_role.json()["failure"] == "no_role" and set(no_role.json()) == {"error", "failure"}


def test_socket_as_root(gateway):
    # Root has no name in the test's user database: 401, as for an unknown uid; the kernel named the caller,
    # so the answer may say it is the account.
    assert send(gateway, "/v1/url", "POST", expect=401, media_type="application/json", body={}).json()["failure"] == "account_refused"
    send(gateway, "/v1/url", "POST", expect=400, media_type="application/json", body={"destination": "nowhere"})
    # The socket's requests are decoded as GatewayAPI's types; a wrong type is a 400 that names the field.
    assert send(gateway, "/v1/url", "POST", expect=400, media_type="application/json",
                body={"role": 5}).json()["error"] == "role must be a string"
    assert send(gateway, "/v1/revoke", "POST", expect=400, media_type="application/json",
                body={"role": "arn:aws:iam::123456789012:role/X", "all": "yes"}).json()["error"] == "all must be true or false"
    assert send(gateway, "/v1/unlock", "POST", expect=400, media_type="application/json",
                body=[]).json()["error"] == "the body must be a JSON object"
    send(gateway, "/v1/url", "POST", expect=415, media_type="text/plain", body="{}")
    assert send(gateway, "/v1/unlock", "POST", expect=200, media_type="application/json",
                body={"target": "oa-never-seen"}).json() == {"unlocked": None, "message": "user:oa-never-seen was not locked"}
    send(gateway, "/v1/unlock", "POST", expect=400, media_type="application/json", body={})
    send(gateway, "/v1/unlock", "POST", expect=400, media_type="application/json", body={"target": "x" * 300})
    send(gateway, "/v1/revoke", "POST", expect=400, media_type="application/json", body={})
    send(gateway, "/v1/revoke", "POST", expect=400, media_type="application/json", body={"user": "oa-nobody"})
    send(gateway, "/v1/revoke", "POST", expect=400, media_type="application/json", body={"all": True, "role": "ReadOnly"})
    # A role IAM does not know: AWS refuses (502); no real role is touched.
    send(gateway, "/v1/revoke", "POST", expect=502, media_type="application/json",
         body={"user": "oa-nobody", "role": "arn:aws:iam::123456789012:role/OpenAPITestNoSuchRole"})


def test_socket_unlock_after_lockout(gateway):
    # test_api_lockout may not have run (-k); lock a name of our own.
    for _ in range(PER_USER):
        send(gateway, "/api/v1/login", "POST", session="lockout", media_type="application/json",
             body={"username": "oa-locked", "password": "guess"})
    answer = send(gateway, "/v1/unlock", "POST", expect=200, media_type="application/json", body={"target": "oa-locked"})
    assert answer.json() == {"unlocked": "user:oa-locked"}


def test_socket_healthz(gateway):
    # The socket serves /healthz too, answering as the TCP one (the same operation in the document).
    response = gateway.sessions["socket"].get(SOCKET_BASE + "/healthz", timeout=60)
    SCHEMA["/healthz"]["GET"].Case().validate_response(response, checks=CONFORMANCE)
    assert response.json() == {"status": "ok"}


# --- what the document says about everything else ---------------------------------------------------------

def test_head_answers_as_get_without_the_body(gateway):
    """HEAD on a GET path (what some load balancers check) has the GET's status and headers, and no body."""
    for path, status in (("/healthz", 200), ("/", 200), ("/api/v1/info", 200)):
        response = gateway.sessions["positive"].head(gateway.url + path, timeout=60, allow_redirects=False)
        assert (response.status_code, response.content) == (status, b""), path
        assert response.headers["Cache-Control"] == "no-store"


def test_unlisted_methods_are_404(gateway):
    """Routing answers 404 with an empty body, not 405, for a method a path does not list."""
    for method, path in (("GET", "/api/v1/login"), ("PUT", "/api/v1/roles"), ("HEAD", "/api/v1/login"), ("OPTIONS", "/"),
                         ("POST", "/api/v1/info"), ("GET", "/nowhere")):
        response = gateway.sessions["positive"].request(method, gateway.url + path, timeout=60, allow_redirects=False)
        assert (response.status_code, response.content) == (404, b""), f"{method} {path}"
        assert response.headers["Cache-Control"] == "no-store"
    metrics = gateway.sessions["default"].post(gateway.metrics_url + "/metrics", timeout=60)
    assert metrics.status_code == 404


def test_connection_limit():
    """Past listen.max_connections_per_address a new connection gets a bare 503 before any route runs."""
    held = []
    with Gateway([User("oa-erin", "erin-openapi-pw", groups=["oa-staff"])], [Rule(role("ConsoleReadOnly"), groups=["oa-staff"])],
                 listen_extra=("max_connections_per_address: 2",)) as gw:
        try:
            for port, path in ((gw.port, "/api/v1/info"), (gw.metrics_port, "/metrics")):
                for _ in range(2):
                    held.append(socket.create_connection((gw.host, port), timeout=30, source_address=("127.0.0.5", 0)))
                # Admission is decided as each connection is set up; until the held ones are, a new one may get
                # in. Each try is a connection of its own.
                for _ in range(50):
                    session = session_from("127.0.0.5")
                    try:
                        response = session.get(f"http://{gw.host}:{port}{path}", headers={"Connection": "close"}, timeout=30)
                    finally:
                        session.close()
                    if response.status_code == 503:
                        break
                    time.sleep(0.1)
                SCHEMA[path]["GET"].Case().validate_response(response, checks=CONFORMANCE)
                assert (response.status_code, response.content, response.headers["Retry-After"]) == (503, b"", "5")
                assert response.headers["Cache-Control"] == "no-store" and response.headers["X-Content-Type-Options"] == "nosniff"
        finally:
            for sock in held:
                sock.close()
