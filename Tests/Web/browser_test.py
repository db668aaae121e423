"""The web login page of `consolegate serve`, in headless Chromium (Selenium + Debian's chromium-driver).

Run through scripts/test.sh, or with the stand-ins started and CONSOLEGATE_BIN set:
    python3 -m pytest Tests/Web/browser_test.py
Screenshots go to $TEST_OUTPUT_DIR (default test-output/, git-ignored).

How a login is followed to its end: the gateway answers 303 to the federation stand-in's login URL, which
answers 302 to the Destination on https://console.aws.amazon.com/. Chromium maps that host (host-resolver
rules) to a local HTTPS "console stand-in" and trusts its throwaway certificate, so the navigation ends on a
real page, as with AWS; every other name fails to resolve. The redirect chain, with each hop's status and
headers, comes from the DevTools performance log (Network.requestWillBeSent carries the previous hop's
redirectResponse). The federation stand-in's 302 carries X-Standin-Principal, the ARN the one-time SigninToken
was minted for, which says which role the user got without spending the token a second time.
"""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from gateway_fixture import (
    Browser, ConsoleStandIn, Gateway, Rule, User, assumed_role_arn, metric_value, output_dir, role, wait_until)

CONSOLE = "https://console.aws.amazon.com/"
NAVIGATION_TIMEOUT = 30.0
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


# --- the DevTools network log -------------------------------------------------------------------------------

def header(headers: dict, name: str):
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def document_chains(events: list[dict]) -> list[dict]:
    """Main-document navigations in order: {"hops": [{"method", "url", "status", "headers"}], "end": None |
    "response" | "failed: net::..."}. A redirect keeps its request id and adds a hop."""
    chains: dict[str, dict] = {}
    order: list[str] = []
    for event in events:
        method, params = event["method"], event["params"]
        rid = params.get("requestId")
        if method == "Network.requestWillBeSent" and params.get("type") == "Document":
            chain = chains.get(rid)
            if chain is None:
                chain = chains[rid] = {"hops": [], "end": None}
                order.append(rid)
            redirect = params.get("redirectResponse")
            if redirect and chain["hops"]:
                chain["hops"][-1].update(status=redirect.get("status"), headers=redirect.get("headers", {}))
            chain["hops"].append({"method": params["request"]["method"], "url": params["request"]["url"],
                                  "status": None, "headers": {},
                                  "origin": header(params["request"].get("headers", {}), "Origin")})
        elif method == "Network.responseReceived" and rid in chains and params.get("type") == "Document":
            response = params["response"]
            chains[rid]["hops"][-1].update(status=response.get("status"), headers=response.get("headers", {}))
            chains[rid]["end"] = "response"
        elif method == "Network.loadingFailed" and rid in chains:
            chains[rid]["end"] = "failed: " + params.get("errorText", "")
    return [chains[rid] for rid in order]


def wait_for(predicate, what: str, timeout: float = NAVIGATION_TIMEOUT):
    value = wait_until(predicate, timeout)
    if not value:
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
    return value


def submit(b: Browser, element, keys: str | None = None) -> dict:
    """Clicks `element` (or sends it `keys`), waits for the form's POST navigation to end and its page to load;
    returns the chain."""
    b.clear_events()
    if keys is None:
        element.click()
    else:
        element.send_keys(keys)

    def finished():
        b.drain()
        for chain in document_chains(b.events):
            if chain["hops"] and chain["hops"][0]["method"] == "POST" and chain["end"]:
                return chain
        return None

    chain = wait_for(finished, "the form's navigation")
    if chain["end"] == "response":
        final = chain["hops"][-1]["url"]
        wait_for(lambda: b.driver.current_url.split("#")[0] == final.split("#")[0]
                   and b.driver.execute_script("return document.readyState") == "complete",
                   f"{final} to load")
    return chain


def load(b: Browser, url: str) -> None:
    b.driver.get(url)  # returns once the page has loaded


def describe(chain: dict, b: Browser | None = None) -> str:
    """The hops, their statuses, the Origin a POST was sent with, and (given the browser) what its console said,
    such as Content-Security-Policy refusals."""
    text = " → ".join(f"{h['method']} {h['url'][:70]}" + (f" (Origin: {h['origin']})" if h["method"] == "POST" else "")
                      + f" [{h['status']}]" for h in chain["hops"]) + f" ({chain['end']})"
    if b is not None:
        messages = [m.get("message", "")[:300] for m in b.console_messages()]
        if messages:
            text += "; browser console: " + " | ".join(messages)
    return text


# --- page inspection ----------------------------------------------------------------------------------------

def by_id(b: Browser, element_id: str):
    found = b.driver.find_elements("id", element_id)
    return found[0] if found else None


def attribute(element, name: str):
    return element.get_dom_attribute(name) if element is not None else None


def unlabelled_inputs(b: Browser) -> list[str]:
    return b.driver.execute_script("""
        return Array.from(document.querySelectorAll('input, select, textarea'))
          .filter(e => e.type !== 'hidden')
          .filter(e => !e.id || !Array.from(document.querySelectorAll('label')).some(
                        l => l.htmlFor === e.id && l.textContent.trim() !== ''))
          .map(e => e.id || e.name || e.outerHTML);""")


def inline_code(b: Browser) -> list[str]:
    """Inline scripts or styles: <script>, <style>, style="…", on…="…" handlers, javascript: URLs."""
    return b.driver.execute_script("""
        const found = [];
        for (const e of document.querySelectorAll('script, style')) found.push(e.tagName.toLowerCase());
        for (const e of document.querySelectorAll('*')) {
          for (const a of e.attributes) {
            if (a.name === 'style' || a.name.startsWith('on') || /^\\s*javascript:/i.test(a.value))
              found.push(e.tagName.toLowerCase() + '[' + a.name + ']');
          }
        }
        return found;""")


def tab_order(b: Browser, count: int) -> list[str]:
    """Ids of the first `count` elements keyboard focus reaches from a fresh page (autofocus counts as the
    first; otherwise the first Tab)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    def active():
        return b.driver.execute_script(
            "const e = document.activeElement; return e && e !== document.body ? (e.id || e.name || e.tagName) : null;")

    order = []
    # autofocus is applied a moment after the load event: wait for it rather than race it.
    if b.driver.execute_script("return document.querySelector('[autofocus]') !== null;"):
        wait_for(active, "the autofocus field to take focus", timeout=5)
    current = active()
    if current is None:
        ActionChains(b.driver).send_keys(Keys.TAB).perform()
        current = active()
    order.append(current)
    while len(order) < count:
        ActionChains(b.driver).send_keys(Keys.TAB).perform()
        order.append(active())
    return order


def csp_errors(b: Browser) -> list[str]:
    return [m.get("message", "") for m in b.console_messages()
            if "Content Security Policy" in m.get("message", "") or "Refused to" in m.get("message", "")]


# --- checks -------------------------------------------------------------------------------------------------

def check_info(check, gw: Gateway, secrets: list[str], logout_first: bool, step_up: list[str] = ()) -> None:
    status, headers, body = gw.http("GET", "/api/v1/info")
    check.equal("GET /api/v1/info: 200", status, 200)
    try:
        check.equal("GET /api/v1/info: secrets, what a role's step-up may add, and logout_first from the config", json.loads(body),
                    {"secrets": secrets, "step_up_secrets": list(step_up), "logout_first": logout_first})
    except ValueError:
        check("GET /api/v1/info: JSON body", False, repr(body[:200]))


def check_login_page(check, b: Browser, gw: Gateway, otp: bool, label: str) -> None:
    b.console_messages()  # forget earlier pages' console messages
    load(b, gw.url + "/")
    form = b.driver.find_elements("css selector", "form")
    check(f"{label}: one form, method post, action /login",
          len(form) == 1 and (attribute(form[0], "method") or "").lower() == "post"
          and attribute(form[0], "action") == "/login",
          f"forms: {[(attribute(f, 'method'), attribute(f, 'action')) for f in form]}")
    username, password, otp_field = by_id(b, "username"), by_id(b, "password"), by_id(b, "otp")
    check(f"{label}: #username, name=username", attribute(username, "name") == "username")
    check(f"{label}: #password, name=password, type=password",
          attribute(password, "name") == "password" and attribute(password, "type") == "password")
    if otp:
        check(f"{label}: #otp, name=otp, inputmode=numeric, autocomplete=one-time-code",
              attribute(otp_field, "name") == "otp" and attribute(otp_field, "inputmode") == "numeric"
              and attribute(otp_field, "autocomplete") == "one-time-code",
              f"got {otp_field and otp_field.get_attribute('outerHTML')}")
    else:
        check(f"{label}: no one-time code field", otp_field is None and not b.driver.find_elements("name", "otp"))
    csrf = b.driver.find_elements("css selector", "input[type=hidden][name=csrf]")
    check(f"{label}: hidden csrf field with a value", len(csrf) == 1 and bool(attribute(csrf[0], "value")))
    checkbox = by_id(b, "logout_first")
    check(f"{label}: #logout_first checkbox, name=logout_first",
          attribute(checkbox, "type") == "checkbox" and attribute(checkbox, "name") == "logout_first")
    button = by_id(b, "submit")
    check(f"{label}: #submit submits the form", button is not None and (attribute(button, "type") or "submit") == "submit"
          and button.tag_name in ("button", "input"))
    missing = unlabelled_inputs(b)
    check(f"{label}: a label[for] for every input", not missing, f"unlabelled: {missing}")
    inline = inline_code(b)
    check(f"{label}: no inline script or style", not inline, f"found: {inline}")
    sheets = b.driver.execute_script(
        "return Array.from(document.querySelectorAll('link[rel=stylesheet]')).map(l => l.getAttribute('href'));")
    check(f"{label}: stylesheet /static/consolegate.css linked", "/static/consolegate.css" in sheets, f"{sheets}")
    applied = b.driver.execute_script(
        "return Array.from(document.styleSheets).some(s => s.href && s.href.endsWith('/static/consolegate.css')"
        " && s.cssRules.length > 0);")
    check(f"{label}: the stylesheet loaded in the browser", applied)
    errors = csp_errors(b)
    check(f"{label}: no Content-Security-Policy violations", not errors, f"{errors}")
    cookie = b.driver.get_cookie("consolegate_csrf")
    check(f"{label}: consolegate_csrf cookie HttpOnly, SameSite=Strict, Path=/",
          cookie is not None and cookie.get("httpOnly") is True and cookie.get("sameSite") == "Strict"
          and cookie.get("path") == "/", f"{cookie}")
    expected = ["username", "password"] + (["otp"] if otp else []) + ["logout_first", "submit"]
    load(b, gw.url + "/")
    check.equal(f"{label}: keyboard tab order", tab_order(b, len(expected)), expected)


def screenshots(check, b: Browser, gw: Gateway, prefix: str) -> None:
    out = output_dir()
    b.viewport(1280, 900)
    load(b, gw.url + "/")
    desktop = os.path.join(out, f"{prefix}-desktop.png")
    b.screenshot(desktop)
    check(f"screenshot {desktop}", os.path.getsize(desktop) > 1000)
    b.viewport(390, 844, mobile=True)
    load(b, gw.url + "/")
    phone = os.path.join(out, f"{prefix}-phone.png")
    b.screenshot(phone)
    check(f"screenshot {phone}", os.path.getsize(phone) > 1000)
    overflow = b.driver.execute_script(
        "const r = document.getElementById('submit').getBoundingClientRect();"
        "return [document.documentElement.scrollWidth, Math.round(r.left), Math.round(r.right)];")
    check(f"{prefix}: phone width (390px) fits without horizontal scrolling",
          overflow[0] <= 390 and overflow[1] >= 0 and overflow[2] <= 390,
          f"scrollWidth, submit left/right = {overflow}")
    b.viewport(1280, 900)


def need(b: Browser, element_id: str):
    element = by_id(b, element_id)
    if element is None:
        raise AssertionError(f"no #{element_id} on {b.driver.current_url}")
    return element


def fill(b: Browser, **fields: str) -> None:
    for element_id, value in fields.items():
        element = need(b, element_id)
        element.clear()
        element.send_keys(value)


def expect_signin(check, label: str, b: Browser, chain: dict, gw: Gateway, console: ConsoleStandIn, principal: str,
                  first_path: str = "/login") -> None:
    """The chain: POST first_path → 303 to the federation stand-in's login URL → 302 to the console → 200."""
    federation = gw.standins["federation_url"]
    hops = chain["hops"]
    ok = len(hops) >= 3
    check(f"{label}: POST {first_path} → 303 → federation stand-in → 302 → console page",
          ok and urlsplit(hops[0]["url"]).path == first_path and hops[0]["status"] == 303
          and hops[1]["url"].startswith(federation + "?") and hops[1]["status"] == 302
          and hops[-1]["url"].startswith(CONSOLE) and hops[-1]["status"] == 200 and chain["end"] == "response",
          describe(chain, b))
    if not ok:
        return
    location = header(hops[0]["headers"], "Location") or ""
    query = parse_qs(urlsplit(hops[1]["url"]).query)
    check(f"{label}: the 303 Location is the sign-in URL (Action=login, a SigninToken, Destination on the console)",
          location == hops[1]["url"] and query.get("Action") == ["login"] and bool(query.get("SigninToken"))
          and (query.get("Destination") or [""])[0].startswith(CONSOLE), location[:160])
    check.equal(f"{label}: signed in as", header(hops[1]["headers"], "X-Standin-Principal"), principal)
    check(f"{label}: the browser ends on the console page",
          b.driver.current_url.startswith(CONSOLE) and bool(console.requests),
          f"current_url {b.driver.current_url}; the console stand-in saw {console.requests}")


def expect_failure_page(check, label: str, b: Browser, chain: dict, status: int = 401) -> str:
    hops = chain["hops"]
    check(f"{label}: POST /login answers {status} with the login page again",
          len(hops) == 1 and hops[0]["status"] == status and chain["end"] == "response"
          and by_id(b, "username") is not None and by_id(b, "password") is not None, describe(chain, b))
    error = by_id(b, "error")
    text = error.text.strip() if error is not None else ""
    check(f"{label}: #error role=alert with a message", error is not None and attribute(error, "role") == "alert"
          and bool(text), f"{error and error.get_attribute('outerHTML')}")
    return text


def audit_entry(gw: Gateway, user: str) -> dict:
    entries = [e for e in gw.audit_lines() if e.get("user") == user]
    return entries[-1] if entries else {}


# --- CSRF, without a browser --------------------------------------------------------------------------------

def check_csrf(check, gw: Gateway, user: User) -> None:
    federation = gw.standins["federation_url"]
    cookie_a, token_a, raw = gw.login_page()
    check("GET / sets consolegate_csrf and a csrf field", bool(cookie_a) and bool(token_a), raw)
    attributes = [a.strip().lower() for a in raw.split(";")[1:]]
    check("the consolegate_csrf cookie: HttpOnly; SameSite=Strict; Path=/",
          "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes, raw)
    cookie_b, token_b, _ = gw.login_page()
    check("another session gets another token", token_b and token_b != token_a)

    def post(fields: dict, cookie: str | None, extra: dict | None = None):
        headers = dict(FORM, **(extra or {}))
        if cookie is not None:
            headers["Cookie"] = f"consolegate_csrf={cookie}"
        return gw.http("POST", "/login", urlencode(fields), headers)

    right = {"username": user.name, "password": user.password}
    status, _, _ = post(right, cookie_a)
    check.equal("POST /login without the csrf field: 403", status, 403)
    status, _, _ = post(dict(right, csrf=token_b), cookie_a)
    check.equal("POST /login with another session's csrf token: 403", status, 403)
    status, _, _ = post(dict(right, csrf=token_a), None)
    check.equal("POST /login with a csrf field but no cookie: 403", status, 403)
    status, _, _ = post(dict(right, csrf=token_a), cookie_a, {"Origin": "http://evil.example"})
    check.equal("POST /login from another Origin: 403", status, 403)
    status, _, _ = post(dict(right, csrf=token_a), cookie_a, {"Sec-Fetch-Site": "cross-site"})
    check.equal("POST /login with Sec-Fetch-Site: cross-site: 403", status, 403)
    status, _, body = post({"username": user.name, "password": "not-" + user.password, "csrf": token_a}, cookie_a)
    check.equal("control: matching csrf, wrong password: 401", status, 401)
    status, headers, _ = post(dict(right, csrf=token_a), cookie_a)
    location = headers.get("Location") or ""
    check("control: matching csrf, right password: 303 to the sign-in URL",
          status == 303 and location.startswith(federation + "?"), f"{status} {location[:120]}")




# --- the tests ----------------------------------------------------------------------------------------------

ALICE = User("alice", "alice-web-pw", groups=["staff"])
CAROL = User("carol", "carol-web-pw", groups=["staff", "aws-admins"])


@pytest.fixture(scope="module")
def console():
    with ConsoleStandIn() as console:
        yield console


@pytest.fixture(scope="module")
def browser(console):
    """One Chromium for every gateway of this file; each gateway's class starts it without cookies."""
    with Browser(console=console) as browser:
        yield browser


class TestPasswordOnly:
    """A gateway that asks for the password only, logout_first off; alice has one role, carol two."""

    @pytest.fixture(scope="class")
    def gw(self, browser):
        browser.driver.delete_all_cookies()
        rules = [Rule(role("ConsoleAdmin"), groups=["aws-admins"]), Rule(role("ConsoleReadOnly"), groups=["staff"])]
        with Gateway([ALICE, CAROL], rules, logout_first=False) as gw:
            yield gw

    def test_info(self, gw, check):
        """/api/v1/info."""
        check_info(check, gw, ["password"], False)

    def test_login_page(self, browser, gw, check):
        check_login_page(check, browser, gw, otp=False, label="login page")

    def test_screenshots(self, browser, gw, check):
        screenshots(check, browser, gw, "login")

    def test_one_role(self, browser, gw, console, check):
        """alice signs in through the page."""
        read_only = role("ConsoleReadOnly")
        before = metric_value(gw.metrics_text(), "consolegate_logins_total", front_end="web", outcome="success")
        load(browser, gw.url + "/")
        fill(browser, username=ALICE.name, password=ALICE.password)
        console.requests.clear()
        chain = submit(browser, need(browser, "submit"))
        expect_signin(check, "alice", browser, chain, gw, console, assumed_role_arn(read_only, "alice"))
        entry = audit_entry(gw, "alice")
        check("alice: audit line front_end=web, outcome=success, her role",
              entry.get("front_end") == "web" and entry.get("outcome") == "success"
              and entry.get("role") == read_only, f"{entry}")
        after = metric_value(gw.metrics_text(), "consolegate_logins_total", front_end="web", outcome="success")
        check.equal('alice: consolegate_logins_total{front_end="web",outcome="success"} +1', after - before, 1)

    def test_two_roles(self, browser, gw, console, check):
        """carol picks the second role on the chooser."""
        browser.driver.delete_all_cookies()
        load(browser, gw.url + "/")
        fill(browser, username=CAROL.name, password=CAROL.password)
        chain = submit(browser, need(browser, "submit"))
        hops = chain["hops"]
        check("carol: POST /login answers 200 with the role chooser",
              len(hops) == 1 and hops[0]["status"] == 200, describe(chain, browser))
        form = browser.driver.find_elements("css selector", "form")
        check("chooser: form action=/login/role, method post",
              len(form) == 1 and attribute(form[0], "action") == "/login/role"
              and (attribute(form[0], "method") or "").lower() == "post")
        radios = browser.driver.find_elements("css selector", "input[type=radio][name=role]")
        values = [attribute(x, "value") for x in radios]
        check.equal("chooser: radios role-0, role-1", [attribute(x, "id") for x in radios], ["role-0", "role-1"])
        check.equal("chooser: their values are carol's role ARNs", sorted(values),
                    sorted([role("ConsoleAdmin"), role("ConsoleReadOnly")]))
        check("chooser: hidden pending and csrf fields",
              all(browser.driver.find_elements("css selector", f"input[type=hidden][name={n}]")
                  and attribute(browser.driver.find_element("css selector", f"input[type=hidden][name={n}]"), "value")
                  for n in ("pending", "csrf")))
        missing = unlabelled_inputs(browser)
        check("chooser: a label[for] for every radio", not missing, f"unlabelled: {missing}")
        inline = inline_code(browser)
        check("chooser: no inline script or style", not inline, f"{inline}")
        browser.screenshot(os.path.join(output_dir(), "role-chooser-desktop.png"))
        second = need(browser, "role-1")
        chosen = attribute(second, "value")
        second.click()
        console.requests.clear()
        chain = submit(browser, need(browser, "submit"))
        expect_signin(check, "carol (second role)", browser, chain, gw, console, assumed_role_arn(chosen, "carol"),
                      first_path="/login/role")
        entry = audit_entry(gw, "carol")
        check("carol: audit line front_end=web, outcome=success, the chosen role",
              entry.get("front_end") == "web" and entry.get("outcome") == "success"
              and entry.get("role") == chosen, f"{entry}")

    def test_wrong_password_unknown_user_then_retry(self, browser, gw, console, check):
        """A wrong password, an unknown user, then a retry on the error page."""
        browser.driver.delete_all_cookies()
        load(browser, gw.url + "/")
        fill(browser, username=ALICE.name, password="not-her-password")
        chain = submit(browser, need(browser, "submit"))
        message = expect_failure_page(check, "wrong password", browser, chain)
        browser.screenshot(os.path.join(output_dir(), "login-error-desktop.png"))
        check("wrong password: the message does not echo the password",
              "not-her-password" not in browser.driver.page_source)
        fill(browser, username="nobody-here", password="whatever")
        chain = submit(browser, need(browser, "submit"))
        other = expect_failure_page(check, "unknown user", browser, chain)
        check.equal("unknown user: the same generic message", other, message)
        fill(browser, username=ALICE.name, password=ALICE.password)
        console.requests.clear()
        chain = submit(browser, need(browser, "submit"))
        expect_signin(check, "retry on the error page", browser, chain, gw, console,
                      assumed_role_arn(role("ConsoleReadOnly"), "alice"))

    def test_csrf(self, gw, check):
        """CSRF and cross-site requests (no browser)."""
        check_csrf(check, gw, ALICE)


class TestOneTimeCode:
    """A gateway that asks for a password and a one-time code, logout_first on."""

    @pytest.fixture(scope="class")
    def gw(self, browser):
        browser.driver.delete_all_cookies()
        with Gateway([ALICE], [Rule(role("ConsoleReadOnly"), groups=["staff"])], secrets=("password", "otp"),
                     logout_first=True) as gw:
            yield gw

    def test_info(self, gw, check):
        """/api/v1/info."""
        check_info(check, gw, ["password", "otp"], True)

    def test_login_page(self, browser, gw, check):
        check_login_page(check, browser, gw, otp=True, label="OTP login page")
        checked = by_id(browser, "logout_first").is_selected()
        print(f"NOTE with aws.logout_first: true the checkbox is initially {'checked' if checked else 'unchecked'}")

    def test_screenshots(self, browser, gw, check):
        screenshots(check, browser, gw, "login-otp")

    def test_wrong_one_time_code(self, browser, gw, check):
        load(browser, gw.url + "/")
        code = gw.otp("alice")
        wrong = f"{(int(code) + 1) % 1000000:06d}"
        fill(browser, username=ALICE.name, password=ALICE.password, otp=wrong)
        chain = submit(browser, need(browser, "submit"))
        expect_failure_page(check, "wrong one-time code", browser, chain)

    def test_keyboard_only(self, browser, gw, console, check):
        """alice signs in with a one-time code, keyboard only."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys
        browser.driver.delete_all_cookies()
        load(browser, gw.url + "/")
        by_id(browser, "username").click()  # focus the first field whether or not it autofocuses
        keys = ActionChains(browser.driver).send_keys(ALICE.name, Keys.TAB, ALICE.password, Keys.TAB,
                                                      gw.otp("alice"), Keys.TAB)
        keys.perform()
        if by_id(browser, "logout_first").is_selected():
            ActionChains(browser.driver).send_keys(Keys.SPACE).perform()  # logout_first sends via signin's logout
        check("keyboard: the checkbox can be toggled to off", not by_id(browser, "logout_first").is_selected())
        ActionChains(browser.driver).send_keys(Keys.TAB).perform()
        focused = browser.driver.switch_to.active_element
        check.equal("keyboard: Tab reaches the submit button", attribute(focused, "id"), "submit")
        console.requests.clear()
        chain = submit(browser, focused, keys=Keys.ENTER)
        expect_signin(check, "alice (OTP, keyboard)", browser, chain, gw, console,
                      assumed_role_arn(role("ConsoleReadOnly"), "alice"))


class TestStepUp:
    """Per-role policy: the administrator role needs a one-time code too, with its own session length and page.
    The chooser, the administrator role chosen without its code, then the code given: one sign-in in the browser,
    its steps in this order, each test going on from the page the one before left."""

    @pytest.fixture(scope="class")
    def gw(self, browser):
        browser.driver.delete_all_cookies()
        step_up_rules = [Rule(role("ConsoleAdmin"), groups=["aws-admins"], label="Administrator", step_up_otp=True,
                              session_duration="1h", destination="https://console.aws.amazon.com/ec2/home"),
                         Rule(role("ConsoleReadOnly"), groups=["staff"], label="Read-only")]
        with Gateway([ALICE, CAROL], step_up_rules, logout_first=False) as gw:
            yield gw

    def test_info(self, gw, check):
        """/api/v1/info."""
        check_info(check, gw, ["password"], False, step_up=["otp"])

    def test_chooser_shows_labels_and_asks_for_the_code(self, browser, gw, check):
        load(browser, gw.url + "/")
        check("step-up: the login page asks for the password only (the base sign-in)",
              by_id(browser, "password") is not None and by_id(browser, "otp") is None)
        fill(browser, username=CAROL.name, password=CAROL.password)
        chain = submit(browser, need(browser, "submit"))
        check("step-up: POST /login answers 200 with the chooser", chain["hops"] and chain["hops"][0]["status"] == 200,
              describe(chain, browser))
        labels = [x.text for x in browser.driver.find_elements("css selector", ".role label strong")]
        check.equal("step-up: the roles by their labels", labels, ["Administrator", "Read-only"])
        notes = [x.text for x in browser.driver.find_elements("css selector", ".role .step-up")]
        check.equal("step-up: only the administrator role says it needs a code", notes, ["needs a one-time code"])
        otp = by_id(browser, "otp")
        check("step-up: a one-time code field, labelled for the administrator, not required (the read-only role needs none)",
              otp is not None and attribute(otp, "required") is None
              and "Administrator" in (browser.driver.find_element("css selector", "label[for=otp]").text or ""))
        check("step-up: every input has its label", not unlabelled_inputs(browser), f"{unlabelled_inputs(browser)}")
        browser.screenshot(os.path.join(output_dir(), "role-chooser-step-up-desktop.png"))

    def test_administrator_without_the_code(self, browser, gw, check):
        """A form for the code, nothing minted."""
        mints_before = [e for e in gw.audit_lines() if e.get("outcome") == "minting"]
        need(browser, "role-0").click()
        chain = submit(browser, need(browser, "submit"))
        hops = chain["hops"]
        check("step-up: POST /login/role without the code answers 200 with a form for it",
              len(hops) == 1 and hops[0]["status"] == 200
              and "Administrator needs a one-time code too" in browser.driver.page_source,
              describe(chain, browser))
        otp = by_id(browser, "otp")
        check("step-up: the code field is required and labelled", otp is not None and attribute(otp, "required") is not None
              and not unlabelled_inputs(browser))
        check.equal("step-up: no minting line was written",
                    [e for e in gw.audit_lines() if e.get("outcome") == "minting"], mints_before)

    def test_code_given(self, browser, gw, console, check):
        """The console opens with the role's own settings."""
        admin = role("ConsoleAdmin")
        fill(browser, otp=gw.otp(CAROL.name))
        console.requests.clear()
        chain = submit(browser, need(browser, "submit"))
        expect_signin(check, "carol (administrator, step-up)", browser, chain, gw, console, assumed_role_arn(admin, "carol"),
                      first_path="/login/role")
        hops = chain["hops"]
        if len(hops) >= 3:
            check.equal("step-up: the federation stand-in got the rule's SessionDuration (1h)",
                        header(hops[1]["headers"], "X-Standin-Session-Duration"), "3600")
            check.equal("step-up: and its Destination (the EC2 console)",
                        urlsplit(header(hops[1]["headers"], "Location") or "").path, "/ec2/home")
        entry = audit_entry(gw, "carol")
        check("step-up: audit line outcome=success with the administrator role",
              entry.get("outcome") == "success" and entry.get("role") == admin, f"{entry}")
