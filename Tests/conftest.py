"""pytest setup shared by the Python system tests (Tests/Web, Tests/HA, Tests/StandIns).

`check`: soft, named checks. Each prints `PASS name` or `FAIL name: detail`; a failed check does not stop the
test, and when the test ends it fails with the list of every failed check and its detail. An exception still
ends the test at once, with the checks that had failed by then added to its report. A test that asks for
`check` and makes none fails too: it tested nothing.

    def test_login(gw, check):
        status, answer = gw.api_login(username="alice", password="pw")
        check.equal("API login: 200", status, 200)
        check("API login: a URL", bool((answer or {}).get("url")), f"{answer}")

SIGTERM and SIGHUP end the run as Ctrl-C does, so fixtures and `with` blocks still stop the daemons, browsers,
accounts and PAM services they set up (and restart a PostgreSQL a test had stopped).
"""

from __future__ import annotations

import signal

import pytest


class Checks:
    """The named checks of one test."""

    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []

    def __call__(self, name: str, ok, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failures.append(name + (f": {detail}" if detail else ""))
            print(f"FAIL {self.failures[-1]}", flush=True)
        return bool(ok)

    def equal(self, name: str, actual, expected) -> bool:
        return self(name, actual == expected, f"got {actual!r}, expected {expected!r}")

    def report(self) -> str:
        total = self.passed + len(self.failures)
        return "\n".join([f"{len(self.failures)} of {total} checks failed"] + [f"  FAIL {f}" for f in self.failures])


@pytest.fixture
def check() -> Checks:
    return Checks()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    checks = getattr(item, "funcargs", {}).get("check")
    if not isinstance(checks, Checks):
        return (yield)
    try:
        result = yield
    except BaseException as error:
        if checks.failures:
            error.add_note(checks.report())
        raise
    if checks.failures:
        pytest.fail(checks.report(), pytrace=False)
    if not checks.passed:
        pytest.fail("the test asked for `check` and made no check", pytrace=False)
    return result


def pytest_configure(config: pytest.Config) -> None:
    def interrupt(signum, _frame):
        raise KeyboardInterrupt(f"{signal.Signals(signum).name}: stopping, after the clean-up")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
