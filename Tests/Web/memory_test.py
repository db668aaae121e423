"""A password is gone from the gateway's processes once the login that carried it has been answered.

Reads the memory of `consolegate serve` (running as its service user after dropping root) and of its PAM monitor
through /proc/PID/mem, after logins through every door that carries a password: the JSON API, the web form, HTTP
Basic on the role list, a wrong password, and a body that arrives in two pieces. Root only: the daemon gives up
root, and only root may read another user's memory.

    python3 -m pytest Tests/Web/memory_test.py
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import socket
import sys
import time
from urllib.parse import urlencode

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gateway_fixture import Gateway, Rule, SystemAccounts, User, role  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (the monitor, and any worker still finishing)."""
    found = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    found += process_tree(int(child))
        except FileNotFoundError:
            continue
    return found


def occurrences(pid: int, needle: bytes) -> list[str]:
    """Where `needle` lies in the process's readable memory: one line per hit, with the mapping and the bytes
    around it, so a failure shows what kept the secret."""
    hits = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as memory:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or fields[-1] in ("[vvar]", "[vsyscall]", "[vvar_vclock]"):
                continue
            low, high = (int(x, 16) for x in fields[0].split("-"))
            try:
                memory.seek(low)
                data = memory.read(high - low)
            except OSError:  # a mapping that went away, or a guard page
                continue
            for match in re.finditer(re.escape(needle), data):
                around = data[max(0, match.start() - 48):match.end() + 24]
                hits.append(f"pid {pid} at {low + match.start():#x} in {fields[0]} {fields[-1]}: {around!r}")
    return hits


def remembered(gw: Gateway, needle: bytes) -> list[str]:
    return [hit for pid in process_tree(gw.process.pid) for hit in occurrences(pid, needle)]


@pytest.fixture(scope="module")
def gateway():
    if os.getuid() != 0:
        pytest.fail("run as root: the daemon drops to its service user, and only root may read its memory")
    alice = User("cgmemory", "Pw" + secrets.token_hex(12))
    with SystemAccounts([alice]), Gateway([alice], [Rule(role("ConsoleReadOnly"), users=[alice.name])],
                                          system_pam=True) as gw:
        yield gw, alice


def test_the_scan_finds_what_the_daemon_does_keep(gateway):
    """Control: the scan reads the daemon's memory (the config's role ARN is there for good)."""
    gw, _ = gateway
    assert remembered(gw, role("ConsoleReadOnly").encode())


def test_json_login_right_and_wrong(gateway):
    gw, alice = gateway
    status, answer = gw.api_login(username=alice.name, password=alice.password)
    assert (status, bool((answer or {}).get("url"))) == (200, True)
    guess = "Gs" + secrets.token_hex(12)
    status, _ = gw.api_login(username=alice.name, password=guess)
    assert status == 401
    assert remembered(gw, alice.password.encode()) == []
    assert remembered(gw, guess.encode()) == []


def test_web_form_login(gateway):
    gw, alice = gateway
    cookie, token, _ = gw.login_page()
    status, _, _ = gw.http("POST", "/login", urlencode({"username": alice.name, "password": alice.password, "csrf": token}),
                           dict(FORM, Cookie=f"consolegate_csrf={cookie}"))
    assert status == 303
    assert remembered(gw, alice.password.encode()) == []


def test_basic_authentication_on_the_role_list(gateway):
    """The decoded password is wiped. The header's base64 text is not: NIO and HTTPTypes keep header values as
    Swift strings, which cannot be wiped (the README says so and points clients at the JSON body)."""
    gw, alice = gateway
    credentials = base64.b64encode(f"{alice.name}:{alice.password}".encode()).decode()
    status, _, _ = gw.http("GET", "/api/v1/roles", headers={"Authorization": f"Basic {credentials}"})
    assert status == 200
    assert remembered(gw, alice.password.encode()) == []


def test_a_body_that_arrives_in_two_pieces(gateway):
    """Head and half the body in one segment, the rest in another: the decoder keeps the first part while it
    waits, and the secret is split across two reads."""
    gw, alice = gateway
    body = json.dumps({"username": alice.name, "password": alice.password}).encode()
    half = body.index(alice.password.encode()) + len(alice.password) // 2
    head = (f"POST /api/v1/login HTTP/1.1\r\nHost: {gw.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((gw.host, gw.port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(head + body[:half])
        time.sleep(0.2)  # not a wait for an event: a gap, so the two pieces come to the daemon as two reads
        sock.sendall(body[half:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
    middle = len(alice.password) // 2
    assert remembered(gw, alice.password[:middle].encode()) == []
    assert remembered(gw, alice.password[middle:].encode()) == []
