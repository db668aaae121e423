#!/usr/bin/env python3
"""Stand-in for the AWS console federation endpoint (signin.aws.amazon.com/federation).

AWS is never reachable from ConsoleGate's tests and moto has no federation
endpoint, so this server plays that part, checking credentials against moto's
STS. Behaviour follows the IAM user guide page "Enable custom identity broker
access to the AWS console":

  /federation?Action=getSigninToken&Session=<url-encoded JSON>[&SessionDuration=N]
      (GET query or POST x-www-form-urlencoded body)  -> 200 {"SigninToken": ...}
  /federation?Action=login&Issuer=...&Destination=https://...&SigninToken=...
      (GET)                                            -> 302 to Destination
  /oauth?Action=logout&redirect_uri=<this stand-in's /federation?...> (GET)
                                                       -> 302 to redirect_uri (logout first)
  POST /standin/fail-next  count=N&status=S            -> 204; the next N
      /federation requests answer S (fault injection for retry tests)

Every refusal is a 400 with a bare HTML body, as AWS does. A successful login
carries two test-only headers: X-Standin-Principal (the ARN the token was
minted for) and X-Standin-Session-Duration (the SessionDuration given, or
"default").

Usage:
  python3 federation_standin.py --port 0 --moto-url http://127.0.0.1:5000 \
      [--port-file FILE] [--token-ttl SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import botocore.config
import botocore.session

MIN_SESSION_DURATION = 900  # AWS bounds for the SessionDuration parameter
MAX_SESSION_DURATION = 43200
DEFAULT_TOKEN_TTL = 15 * 60  # AWS sign-in tokens are good for 15 minutes
MAX_BODY = 64 * 1024  # a Session parameter is a few KiB; refuse anything absurd

ASSUMED_ROLE_ARN = re.compile(r"^arn:[\w-]+:sts::\d{12}:assumed-role/[^/]+/.+$")
FEDERATED_USER_ARN = re.compile(r"^arn:[\w-]+:sts::\d{12}:federated-user/.+$")

# moto quirk: GetFederationToken always hands out this fixed session token (with
# the AWS documentation's fixed example key, shared with GetSessionToken), and moto's
# GetCallerIdentity answers "...:user/moto" for it instead of a federated-user
# ARN. This exact token is the only way to tell such credentials apart from
# GetSessionToken ones (which AWS refuses for console sign-in).
MOTO_FEDERATION_SESSION_TOKEN = (
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAe"
    "MicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phU"
    "ZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38"
    "xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQw"
    "j2ICCR/oLxBA=="
)

BAD_REQUEST_HTML = b"<html><body>400 Bad Request</body></html>"


class Refused(Exception):
    """Any request AWS would answer with its bare 400 page."""


class Faults:
    """Thread-safe countdown of injected failures."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._status = 503

    def arm(self, count: int, status: int) -> None:
        with self._lock:
            self._count, self._status = count, status

    def take(self) -> int | None:
        """Return the status to fail with, consuming one, or None."""
        with self._lock:
            if self._count <= 0:
                return None
            self._count -= 1
            return self._status


class Tokens:
    """Issued sign-in tokens; each may be redeemed once, within the TTL."""

    def __init__(self, ttl: float) -> None:
        self._lock = threading.Lock()
        self._ttl = ttl
        self._tokens: dict[str, dict] = {}

    def issue(self, arn: str, session_duration: int | None) -> str:
        token = secrets.token_urlsafe(64)  # 86 url-safe characters
        now = time.monotonic()
        with self._lock:
            # Forget expired tokens so a long test run does not grow without bound.
            for key in [k for k, v in self._tokens.items() if now - v["created"] > self._ttl]:
                del self._tokens[key]
            self._tokens[token] = {
                "arn": arn,
                "created": now,
                "session_duration": session_duration,
                "used": False,
            }
        return token

    def redeem(self, token: str, destination_ok: bool) -> dict:
        # Checking and marking under one lock makes "one-time" hold even when two
        # logins with the same token race.
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None or entry["used"]:
                raise Refused("unknown or used token")
            if time.monotonic() - entry["created"] > self._ttl:
                raise Refused("expired token")
            if not destination_ok:
                raise Refused("bad destination")  # checked here so the token is kept
            entry["used"] = True
            return dict(entry)


class Sts:
    """Asks moto who a set of credentials belongs to."""

    def __init__(self, moto_url: str) -> None:
        self._moto_url = moto_url.rstrip("/")
        self._session = botocore.session.get_session()
        self._lock = threading.Lock()  # botocore sessions are not thread-safe
        # One attempt only: a retry would only slow down a refusal.
        self._config = botocore.config.Config(
            retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=15
        )

    def caller_identity(self, key_id: str, secret: str, token: str) -> dict:
        with self._lock:
            client = self._session.create_client(
                "sts",
                endpoint_url=self._moto_url,
                region_name="us-east-1",
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
                aws_session_token=token,
                config=self._config,
            )
        try:
            return client.get_caller_identity()
        except Exception as exc:  # any failure means "not valid credentials"
            raise Refused("GetCallerIdentity failed") from exc
        finally:
            client.close()

    def latest_federated_name(self) -> str:
        """Best-effort name of the newest GetFederationToken call, from moto's
        state dump, since moto's fixed credentials do not carry it."""
        try:
            with urllib.request.urlopen(self._moto_url + "/moto-api/data.json", timeout=5) as r:
                data = json.load(r)
            names = [t.get("name") for t in data.get("sts", {}).get("Token", [])]
            names = [n for n in names if n]
            return names[-1] if names else "unknown"
        except Exception:
            return "unknown"


def principal_arn(sts: Sts, session_token: str, identity: dict) -> tuple[str, bool]:
    """Return (arn, is_federated_user) or refuse credentials AWS would refuse."""
    arn = identity.get("Arn", "")
    if ASSUMED_ROLE_ARN.match(arn):
        return arn, False
    if FEDERATED_USER_ARN.match(arn):
        return arn, True
    if session_token == MOTO_FEDERATION_SESSION_TOKEN:
        partition = arn.split(":")[1] if arn.count(":") >= 5 else "aws"
        account = identity.get("Account", "123456789012")
        return f"arn:{partition}:sts::{account}:federated-user/{sts.latest_federated_name()}", True
    # GetSessionToken credentials, IAM users, or keys moto does not know.
    raise Refused("credentials cannot sign in to the console")


def parse_session(raw: str | None) -> tuple[str, str, str]:
    if not raw:
        raise Refused("no Session")
    try:
        session = json.loads(raw)
    except ValueError as exc:
        raise Refused("Session is not JSON") from exc
    if not isinstance(session, dict):
        raise Refused("Session is not an object")
    values = [session.get(k) for k in ("sessionId", "sessionKey", "sessionToken")]
    # An empty or missing sessionToken means long-term keys, which AWS refuses.
    if not all(isinstance(v, str) and v for v in values):
        raise Refused("Session lacks temporary credentials")
    return values[0], values[1], values[2]


def parse_session_duration(raw: str | None) -> int | None:
    if raw is None:
        return None
    # Digits only: int() would also take "+900", " 900" or "9_00".
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        raise Refused("SessionDuration not an integer")
    value = int(raw)
    if not MIN_SESSION_DURATION <= value <= MAX_SESSION_DURATION:
        raise Refused("SessionDuration out of range")
    return value


def is_https_url(url: str | None) -> bool:
    if not url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.netloc)


class Handler(BaseHTTPRequestHandler):
    server_version = "FederationStandIn/1.0"
    # Set on the class by main(); shared by all handler threads.
    sts: Sts
    tokens: Tokens
    faults: Faults

    # --- plumbing -------------------------------------------------------

    def log_message(self, format: str, *args) -> None:
        # Silence the default log: it prints the request line, query and all,
        # which would leak Session and SigninToken values.
        pass

    def _log(self, status: int) -> None:
        action = getattr(self, "_action", None)
        if action is not None and not re.fullmatch(r"[A-Za-z]{1,32}", action):
            action = "<other>"  # never echo arbitrary client text
        path = urlsplit(self.path).path
        sys.stderr.write(f"{self.command} {path} action={action or '-'} status={status}\n")
        sys.stderr.flush()

    def _send(self, status: int, body: bytes = b"", content_type: str | None = None,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self._log(status)

    def _send_html_status(self, status: int) -> None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:  # a status http.HTTPStatus does not name
            phrase = "Error"
        body = f"<html><body>{status} {phrase}</body></html>".encode()
        self._send(status, body, "text/html")

    def _params(self) -> dict[str, str]:
        """Query parameters, plus the form body for POST (body wins). The first
        occurrence of a repeated parameter counts."""
        params: dict[str, str] = {}
        sources = [urlsplit(self.path).query]
        if self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0 or length > MAX_BODY:
                raise Refused("body too large")
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            body = self.rfile.read(length).decode("utf-8", "replace")
            if body and ctype not in ("", "application/x-www-form-urlencoded"):
                raise Refused("body is not a form")
            sources.append(body)
        for source in sources:
            seen: set[str] = set()
            for key, value in parse_qsl(source, keep_blank_values=True):
                if key not in seen:
                    seen.add(key)
                    params[key] = value
        return params

    # --- routing --------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self._action = None
        path = urlsplit(self.path).path
        try:
            if path == "/standin/fail-next" and self.command == "POST":
                self._fail_next(self._params())
                return
            if path == "/oauth" and self.command == "GET":
                self._logout(self._params())
                return
            if path != "/federation":
                raise Refused("unknown path")
            params = self._params()  # read the body even when about to fail
            self._action = params.get("Action")
            injected = self.faults.take()
            if injected is not None:
                self._send_html_status(injected)
                return
            if self._action == "getSigninToken":
                self._get_signin_token(params)
            elif self._action == "login" and self.command == "GET":
                self._login(params)
            else:
                raise Refused("unknown action")
        except Refused:
            self._send(400, BAD_REQUEST_HTML, "text/html")
        except Exception as exc:  # keep serving; a 500 points at a stand-in bug
            sys.stderr.write(f"internal error: {type(exc).__name__}\n")
            self._send_html_status(500)

    # --- endpoints ------------------------------------------------------

    def _logout(self, params: dict[str, str]) -> None:
        """`/oauth?Action=logout&redirect_uri=...`: ends the console session, then goes on to redirect_uri.
        Like the real sign-in service it only redirects to its own federation endpoint."""
        target = params.get("redirect_uri", "")
        own = f"http://{self.headers.get('Host', '')}/federation?"
        if params.get("Action") != "logout" or not target.startswith(own):
            raise Refused("bad logout")
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("X-Standin-Logged-Out", "true")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _fail_next(self, params: dict[str, str]) -> None:
        count, status = params.get("count", "1"), params.get("status", "503")
        if not (count.isdigit() and status.isdigit() and 100 <= int(status) <= 599):
            raise Refused("bad fail-next parameters")
        self.faults.arm(int(count), int(status))
        self._send(204)

    def _get_signin_token(self, params: dict[str, str]) -> None:
        key_id, secret, session_token = parse_session(params.get("Session"))
        duration = parse_session_duration(params.get("SessionDuration"))
        identity = self.sts.caller_identity(key_id, secret, session_token)
        arn, federated = principal_arn(self.sts, session_token, identity)
        if federated and duration is not None:
            # AWS refuses SessionDuration with GetFederationToken credentials.
            raise Refused("SessionDuration with federated-user credentials")
        token = self.tokens.issue(arn, duration)
        body = json.dumps({"SigninToken": token}).encode()
        self._send(200, body, "application/json")

    def _login(self, params: dict[str, str]) -> None:
        entry = self.tokens.redeem(
            params.get("SigninToken", ""), is_https_url(params.get("Destination"))
        )
        duration = entry["session_duration"]
        self._send(
            302,
            headers={
                "Location": params["Destination"],
                "X-Standin-Principal": entry["arn"],
                "X-Standin-Session-Duration": "default" if duration is None else str(duration),
            },
        )


def write_port_file(path: str, port: int) -> None:
    # Write-then-rename so a polling reader never sees a partial file.
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".port-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(f"{port}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    parser.add_argument("--moto-url", required=True, help="moto_server base URL, used as STS")
    parser.add_argument("--port-file", help="write the bound port here (atomically)")
    parser.add_argument("--token-ttl", type=float, default=DEFAULT_TOKEN_TTL,
                        help="sign-in token lifetime in seconds (AWS: 900)")
    args = parser.parse_args(argv)

    Handler.sts = Sts(args.moto_url)
    Handler.tokens = Tokens(args.token_ttl)
    Handler.faults = Faults()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]

    stop = threading.Event()
    # Only set a flag here: calling server.shutdown() inside a signal handler
    # on the thread running serve_forever() would deadlock.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    thread = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    thread.start()
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"listening on {port}", flush=True)

    try:
        while not stop.wait(0.5):  # a timed wait keeps signal delivery prompt
            pass
    finally:
        server.shutdown()
        server.server_close()
        if args.port_file:
            # A stale port file would send the next reader to a dead port.
            try:
                os.unlink(args.port_file)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
