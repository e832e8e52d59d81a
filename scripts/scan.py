#!/usr/bin/env python3
"""Authenticated scans of a running Cista from outside, with wapiti and sqlmap.

Starts `cista demo` on a free loopback port with a scratch data directory and signs in the way
a person would, through the one-time links the demo prints:

- owner: Manuel Moreno (owner of units 101 and 305) chooses a password and signs in;
- manager: Olivia Ortiz chooses a password, signs in, enrols an authenticator (the TOTP code is
  computed here, RFC 6238) and confirms it.

Each session cookie is then handed to the scanners, one after the other, the owner's first:

- wapiti (Debian's package) crawls the site from the session's pages and attacks the links
  and forms it finds (its JSON report is read);
- sqlmap (PyPI) is given the forms and queries this script finds by crawling the same pages
  with the session, one sqlmap run per form, the session-bound `csrf` field kept intact
  (`--csrf-token`); its output is read for injection points and reflected-XSS heuristics.

A form that repeats another's route and fields (the role form on each person's row) is
scanned once. The demo gets a draft ballot first, so that its editing forms are scanned too.

Every state-changing request carries the session's `csrf` field and an `Origin` header, as a
browser's would. The scanners never sign themselves out: `/sign-out…`, the erasure of a
person and the demo outbox (a stand-in for email, full of other people's one-time links) are
excluded, and after each run the session must still be live.

The script fails (exit 1) on any finding: a vulnerability or anomaly in wapiti's report, an
injection point or reflected-XSS heuristic from sqlmap, a 5xx answer in the server's log, a
scanner that did not reach the signed-in pages, or a session that did not survive its scan.
It prints, per run, the time taken, the requests the server answered, the signed-in pages
reached and the findings.

The short form (the default, run by .ci/run, about four minutes on two cores) runs eleven
wapiti modules with a time limit each and sqlmap's boolean-blind tests on one form per route;
`--long` runs every wapiti module that works without Internet access (at attack level 2),
and sqlmap at level 3 (cookies and headers too) and risk 2 with every technique on every kind
of form (each route and field set).

Usage: scripts/scan.py [--long] [--only wapiti|sqlmap] PATH/TO/cista
Needs: wapiti (Debian package), and in this Python: sqlmap and pyotp (pinned in .ci/run).
"""

import argparse
import collections
import html.parser
import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

SESSION_COOKIE = "__Host-cista_session"
OWNER_EMAIL = "manuel@palm-court.example"
MANAGER_EMAIL = "owner@palm-court.example"
PASSWORD = "scan-orbit-mango-cellar-91"

# Never crawled nor attacked: they end the session or destroy data for good, or (the demo
# outbox) hand the scanner other people's one-time links. Regular expressions on the path.
EXCLUDED = [r"^/sign-out", r"/erase$", r"^/demo/"]
# The same for wapiti (its wildcards). Its crawler submits every form it finds once, in no
# order we choose: the owner's "opt out of online voting" form would take both of his units
# off online voting before the crawler reaches the ballot forms, so wapiti leaves it alone
# (sqlmap tests it, after the ballot forms; the manager's own consent form is scanned).
# For the same reason its manager leaves the ballots' publish, cancel, reissue and close
# alone (the first would end the editing forms of the draft made below, the others the
# ballot pages): sqlmap submits those last.
WAPITI_EXCLUDED = {
    "owner": ["/sign-out*", "/demo/*", "/vote/units/*/consent"],
    "manager": [
        "/sign-out*",
        "/demo/*",
        "/admin/*/erase",
        "/admin/*/ballots/*/publish",
        "/admin/*/ballots/*/cancel",
        "/admin/*/ballots/*/reissue",
        "/admin/*/ballots/*/close",
    ],
}
# sqlmap sends each form as found before attacking it: these change what the other forms
# can do (a unit off online voting, a ballot published or ended), so they come last.
LAST = re.compile(r"/(consent|publish|cancel|reissue|close)$")
# Pages a signed-in scan must reach (route templates, as the server logs them).
MUST_REACH = {
    "owner": ["/me", "/vote", "/vote/{ballot}/unit/{unit}"],
    "manager": ["/admin/{org}", "/admin/{org}/people", "/admin/{org}/ballots/{id}"],
}
START = {
    "owner": ["/me", "/vote"],
    "manager": ["/me", "/admin/palm-court"],
}
# A route template needs a session when it starts with one of these (test-device excepted).
SIGNED_IN_ROUTES = re.compile(r"^/(me|vote|admin)(/|$)")
PUBLIC_ROUTES = {"/vote/test-device"}

# The long form's time limit for one sqlmap target (level 3 tests cookies, User-Agent and
# Referer too: thousands of requests for one form).
LONG_TARGET_SECONDS = 300

# wapiti modules. Left out of both forms: ssrf and xxe (they need wapiti's own endpoint
# service on the Internet), wapp and nikto (they download their databases from the
# Internet). Nothing here may leave the machine.
WAPITI_SHORT = "xss,permanentxss,sql,exec,file,redirect,crlf,csrf,http_headers,cookieflags,csp"
WAPITI_LONG = (
    "backup,blindsql,brute_login_form,buster,cookieflags,crlf,csp,csrf,exec,file,htaccess,"
    "http_headers,methods,permanentxss,redirect,shellshock,sql,xss"
)

# wapiti 3.0.4 (Debian 12) builds its exclusion patterns with a regular expression that
# Python 3.11 refuses ("global flags not at the start"), so `-x` crashes; upstream moved the
# flags to the front. This runs wapiti with that one function corrected.
WAPITI_LAUNCHER = r"""
import re, sys
import wapitiCore.net.crawler as crawler

def wildcard_translate(pattern):
    return re.compile("(?ms)" + "".join(".*" if c == "*" else re.escape(c) for c in pattern) + r"\Z")

crawler.wildcard_translate = wildcard_translate
from wapitiCore.main.wapiti import wapiti_main
sys.argv[0] = "wapiti"
sys.exit(wapiti_main())
"""


def log(message: str) -> None:
    print(f"scan: {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def excluded(path: str) -> bool:
    return any(re.search(p, path) for p in EXCLUDED)


def scratch(prefix: str, keep: str | None) -> tuple[str, "tempfile.TemporaryDirectory | None"]:
    """The directory for the demo's data, the reports and the logs: `keep` (made if need be,
    left behind), or a temporary one removed with its holder. From here on a CI timeout's
    SIGTERM unwinds like Ctrl-C, so the server and the tools are stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if keep:
        os.makedirs(keep, exist_ok=True)
        return os.path.abspath(keep), None
    holder = tempfile.TemporaryDirectory(prefix=prefix)
    return holder.name, holder


# --- the demo server --------------------------------------------------------------------------


class Demo:
    """`cista demo` in a scratch directory; its JSON log goes to a file the runs are read from."""

    def __init__(self, binary: str, tmp: str, extra_args: tuple[str, ...] = ()):
        self.data = os.path.join(tmp, "data")
        self.port = free_port()
        self.origin = f"https://localhost:{self.port}"
        self.log_path = os.path.join(tmp, "server.log")
        self.links: dict[str, str] = {}
        # Every line the demo printed before serving (api-fuzz.py reads the phone links).
        self.lines: list[str] = []
        env = {k: v for k, v in os.environ.items() if not k.startswith("CISTA_")}
        # Scanners send hundreds of sign-in-family forms a minute from one address: without
        # this they would test the rate limiter (429) instead of the forms. The response
        # floor only evens out timings; 20 ms keeps the scan short.
        env["CISTA_LIMITS_AUTH_PER_MINUTE"] = "1000000"
        env["CISTA_LIMITS_AUTH_RESPONSE_FLOOR_MS"] = "20"
        self._log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [binary, "demo", "--data-dir", self.data, "--listen", f"127.0.0.1:{self.port}",
             *extra_args],
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
            env=env,
        )
        lines: "queue.Queue[str | None]" = queue.Queue()

        def pump() -> None:
            for line in self.process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 300
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError("the demo did not start (see its log: " + self.log_path + ")")
            self.lines.append(line)
            # "  Name, role (email): https://…/i/…"
            m = re.search(r"\(([^()\s]+@[^()\s]+)\):\s*(https://\S+/i/\S+)", line)
            if m:
                self.links[m.group(1)] = m.group(2)
            if "Press Ctrl-C" in line:
                break
        self.context = ssl.create_default_context(cafile=os.path.join(self.data, "tls", "ca.pem"))

    def log_size(self) -> int:
        self._log_file.flush()
        return os.path.getsize(self.log_path)

    def requests_since(self, offset: int) -> list[dict]:
        """The requests the server finished since `offset` in its log: route, method, status."""
        out = []
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            for raw in f:
                try:
                    entry = json.loads(raw)
                except ValueError:
                    continue
                fields = entry.get("fields", {})
                if fields.get("message") != "request finished":
                    continue
                span = entry.get("span", {})
                out.append(
                    {
                        "route": span.get("route", "?"),
                        "method": span.get("method", "?"),
                        "status": int(fields.get("status", 0)),
                    }
                )
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


# --- a small browser: cookies, forms, redirects -----------------------------------------------


class FormParser(html.parser.HTMLParser):
    """Links and forms of a page, with the values a browser would submit by default."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[dict] = []
        self.secret: str | None = None
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self._in_secret = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = {
                "method": a.get("method", "get").upper(),
                "action": a.get("action", ""),
                "enctype": a.get("enctype", ""),
                "fields": [],
            }
            self.forms.append(self._form)
        elif self._form is not None and tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                taken = {n for n, _ in self._form["fields"]}
                if kind == "radio" and a["name"] in taken:
                    return
                self._form["fields"].append((a["name"], a.get("value", "on")))
            elif kind == "file":
                self._form["file"] = True
            elif kind in ("submit", "image"):
                self._submitter(a)
            elif kind not in ("button", "reset"):
                self._form["fields"].append((a["name"], a.get("value") or sample(kind, a)))
        elif self._form is not None and tag == "select" and a.get("name"):
            self._select = a["name"]
            self._form["fields"].append((a["name"], None))
        elif self._form is not None and tag == "option" and self._select is not None:
            fields = self._form["fields"]
            name, value = fields[-1]
            if value is None or "selected" in a:
                fields[-1] = (name, a.get("value", ""))
        elif self._form is not None and tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form["fields"].append((a["name"], "Scan text"))
        elif self._form is not None and tag == "button" and a.get("type", "submit").lower() == "submit":
            self._submitter(a)
        elif tag == "code" and "secret" in a.get("class", "").split():
            self._in_secret = True

    def _submitter(self, a: dict) -> None:
        """A submit button of the open form. A browser sends the name and value of the one
        button that submitted the form and no other; pressing Enter in a field submits with
        the form's first submit button, so that is the one sent here. (Sending every named
        button gave a form two `action` fields no browser sends, answered with an error page
        whose request id changes each time, and sqlmap took that change for an injection.)"""
        assert self._form is not None
        if self._form.get("submitted_by"):
            return
        self._form["submitted_by"] = True
        if a.get("name"):
            self._form["fields"].append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "code":
            self._in_secret = False

    def handle_data(self, data: str) -> None:
        if self._in_secret and data.strip():
            self.secret = (self.secret or "") + data.strip()


def sample(kind: str, attrs: dict) -> str:
    """A plausible value for an empty field, as a person would type it."""
    name = attrs.get("name", "")
    if kind == "email" or "email" in name:
        return "scan@example.org"
    if kind == "password":
        # Never the real one: a right "current password" would change it and end the session.
        return "Scan-not-the-password-7"
    if kind == "number" or attrs.get("inputmode") in ("numeric", "decimal"):
        return "1"
    if kind == "date":
        return "2031-03-01"
    if kind == "datetime-local":
        return "2031-03-01T10:00"
    if kind == "time":
        return "10:00"
    if kind == "tel":
        return "+1 305 555 0100"
    return "Scan"


class Page:
    def __init__(self, url: str, status: int, headers, body: str):
        self.url = url
        self.path = urllib.parse.urlsplit(url).path
        self.status = status
        self.headers = headers
        self.body = body
        parser = FormParser()
        if "text/html" in (headers.get("content-type") or ""):
            parser.feed(body)
        self.links = parser.links
        self.forms = parser.forms
        self.secret = parser.secret

    def form(self, action_part: str) -> dict:
        for f in self.forms:
            if action_part in f["action"] and f["method"] == "POST":
                return f
        raise RuntimeError(f"{self.url}: no form posting to …{action_part} (status {self.status})")


class Browser:
    def __init__(self, demo: Demo):
        self.demo = demo
        self.cookies: dict[str, str] = {}

    def send(self, method: str, target: str, fields=None) -> Page:
        parts = urllib.parse.urlsplit(urllib.parse.urljoin(self.demo.origin + "/", target))
        path = parts.path + ("?" + parts.query if parts.query else "")
        headers = {"User-Agent": "cista-scan", "Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = self.demo.origin
        conn = http.client.HTTPSConnection(
            "localhost", self.demo.port, context=self.demo.context, timeout=60
        )
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            data = response.read(4 << 20).decode("utf-8", "replace")
        finally:
            conn.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            if value:
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return Page(self.demo.origin + path, response.status, response.headers, data)

    def go(self, method: str, target: str, fields=None) -> Page:
        """Sends and follows redirects as a browser does (a 303 becomes a GET)."""
        page = self.send(method, target, fields)
        for _ in range(10):
            if page.status not in (301, 302, 303, 307, 308):
                return page
            page = self.send("GET", page.headers["location"])
        raise RuntimeError(f"{target}: too many redirects")

    def submit(self, page: Page, action_part: str, **values: str) -> Page:
        form = page.form(action_part)
        fields = dict(form["fields"])
        fields.update(values)
        return self.go("POST", urllib.parse.urljoin(page.url, form["action"]), list(fields.items()))


def enrol_authenticator(browser: Browser, page: Page) -> Page:
    import pyotp

    for attempt in range(2):
        if not page.secret:
            raise RuntimeError(f"{page.url}: no authenticator key on the page")
        code = pyotp.TOTP(page.secret.replace(" ", "")).now()
        done = browser.submit(page, "/mfa/enrol", code=code)
        if "Your authenticator is on" in done.body:
            return done
        if attempt == 0:
            # A code typed just as its 30-second window ended: wait for the next one.
            time.sleep(31 - time.time() % 30)
            page = browser.go("GET", "/mfa/enrol")
    raise RuntimeError("the authenticator code was refused")


def sign_in(demo: Demo, email: str, authenticator: bool) -> str:
    """Follows the printed one-time link, chooses a password, signs in (enrolling an
    authenticator when asked) and returns the session token."""
    browser = Browser(demo)
    link = demo.links.get(email)
    if not link:
        raise RuntimeError(f"the demo printed no sign-in link for {email}")
    page = browser.go("GET", link)
    page = browser.submit(page, "/i/", password=PASSWORD, confirm=PASSWORD)
    if page.status >= 400:
        raise RuntimeError(f"choosing a password failed: {page.status} at {page.url}")
    for _ in range(5):
        if page.path == "/me" and page.status == 200:
            break
        if page.path == "/mfa/enrol":
            enrol_authenticator(browser, page)
            page = browser.go("GET", "/me")
        elif any(f["method"] == "POST" and f["action"] == "/sign-in" for f in page.forms):
            page = browser.submit(page, "/sign-in", email=email, password=PASSWORD)
        else:
            # Signed in already (or not): /me answers, or leads to the sign-in form.
            page = browser.go("GET", "/me")
    if page.path != "/me" or page.status != 200:
        raise RuntimeError(f"{email}: could not sign in (ended at {page.url}, {page.status})")
    if authenticator and "Authenticator app: on" not in page.body:
        raise RuntimeError(f"{email}: signed in without an authenticator")
    return browser.cookies[SESSION_COOKIE]


def make_draft(demo: Demo, token: str) -> None:
    """A draft ballot with one resolution, so that the scanners find the editing forms (the
    demo's own ballots are all published)."""
    browser = Browser(demo)
    browser.cookies[SESSION_COOKIE] = token
    page = browser.go("GET", "/admin/palm-court/ballots/new")
    page = browser.submit(page, "/ballots/new", title="Scan draft")
    if page.status != 200 or "/ballots/" not in page.path:
        raise RuntimeError(f"could not make a draft ballot: {page.status} at {page.url}")
    page = browser.submit(page, "/contests", title="Scan resolution")
    if page.status != 200:
        raise RuntimeError(f"could not add a resolution to the draft: {page.status} at {page.url}")


def session_alive(demo: Demo, token: str) -> bool:
    browser = Browser(demo)
    browser.cookies[SESSION_COOKIE] = token
    page = browser.send("GET", "/me")
    return page.status == 200


# --- what sqlmap is given: the forms and queries of the signed-in pages -----------------------


def shape(path: str) -> str:
    """The route a path belongs to: ids and tokens become `{}`."""
    return "/".join(
        "{}" if re.fullmatch(r"\d+|[0-9a-fA-F-]{16,}|[A-Za-z0-9_-]{20,}", seg) else seg
        for seg in path.split("/")
    )


def crawl(demo: Demo, token: str, starts: list[str], per_route: int) -> tuple[list[Page], list[dict]]:
    """GET-only breadth-first walk of the site with the session, at most `per_route` pages of
    one route (so a roster of 40 people costs what one does); returns the pages and every form
    and query found on them (each with the page it came from)."""
    browser = Browser(demo)
    browser.cookies[SESSION_COOKIE] = token
    todo = collections.deque(starts)
    seen = set(starts)
    routes: collections.Counter = collections.Counter()
    pages: list[Page] = []
    targets: list[dict] = []
    while todo:
        target = todo.popleft()
        page = browser.send("GET", target)
        pages.append(page)
        if page.status != 200:
            continue
        for href in page.links:
            url = urllib.parse.urljoin(page.url, href.split("#")[0])
            parts = urllib.parse.urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" != demo.origin:
                continue
            path = parts.path + ("?" + parts.query if parts.query else "")
            if excluded(parts.path) or parts.path.startswith("/static/") or path in seen:
                continue
            seen.add(path)
            keys = sorted({k for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)})
            route = (shape(parts.path), tuple(keys))
            if routes[route] >= per_route:
                continue
            routes[route] += 1
            todo.append(path)
            if parts.query:
                targets.append({"method": "GET", "url": url, "data": None, "page": page.url})
        for form in page.forms:
            action = urllib.parse.urljoin(page.url, form["action"] or page.url)
            action_path = urllib.parse.urlsplit(action).path
            if excluded(action_path) or not form["fields"]:
                continue
            data = urllib.parse.urlencode(form["fields"])
            if form["method"] == "GET":
                targets.append({"method": "GET", "url": action + "?" + data, "data": None, "page": page.url})
            elif form.get("file") or "multipart" in form["enctype"]:
                # File uploads: sqlmap cannot send multipart forms; wapiti attacks them.
                continue
            else:
                targets.append({"method": "POST", "url": action, "data": data, "page": page.url})
    return pages, targets


def target_key(t: dict) -> tuple:
    """Method, route and field names of a target."""
    parts = urllib.parse.urlsplit(t["url"])
    fields = t["data"] if t["data"] is not None else parts.query
    names = tuple(sorted({k for k, _ in urllib.parse.parse_qsl(fields, keep_blank_values=True)}))
    return (t["method"], shape(parts.path), names)


def distinct(targets: list[dict], long: bool) -> list[dict]:
    """One target per route (short form), or per route and field set (long form)."""
    out, keys = [], set()
    for t in targets:
        key = target_key(t) if long else target_key(t)[:2]
        if key not in keys:
            keys.add(key)
            out.append(t)
    return out


def repeated_forms(targets: list[dict]) -> list[str]:
    """The actions of forms that repeat another's route and fields (a role form per person):
    wapiti attacks one of each."""
    kept: dict[tuple, str] = {}
    repeats = []
    for t in targets:
        if t["method"] != "POST":
            continue
        key = target_key(t)
        first = kept.setdefault(key, t["url"])
        if t["url"] != first and t["url"] not in repeats:
            repeats.append(t["url"])
    return repeats


# --- the scanners ---------------------------------------------------------------------------


class Run:
    def __init__(self, tool: str, role: str):
        self.tool = tool
        self.role = role
        self.findings: list[str] = []
        self.notes: list[str] = []
        self.seconds = 0.0
        self.requests: list[dict] = []
        self.detail = ""
        self.targets: list[str] = []


def wapiti_python() -> str:
    wapiti = shutil.which("wapiti")
    if not wapiti:
        raise RuntimeError("wapiti is not installed (Debian package wapiti)")
    with open(wapiti) as f:
        first = f.readline()
    return first[2:].strip() if first.startswith("#!") else "python3"


def run_wapiti(demo: Demo, token: str, role: str, long: bool, tmp: str, repeats: list[str]) -> Run:
    run = Run("wapiti", role)
    out = os.path.join(tmp, f"wapiti-{role}")
    os.makedirs(out, exist_ok=True)
    report = os.path.join(out, "report.json")
    # Nothing listens there: whatever a module would send to wapiti's outside endpoint stays
    # on this machine.
    nowhere = f"http://127.0.0.1:{free_port()}/"
    # wapiti's cookie file format; it files a host without a dot under "<host>.local".
    cookie_file = os.path.join(out, "cookies.json")
    with open(cookie_file, "w") as f:
        json.dump(
            {
                ".localhost.local": {
                    "/": {
                        SESSION_COOKIE: {
                            "value": token,
                            "expires": None,
                            "secure": True,
                            "port": None,
                            "version": 0,
                        }
                    }
                }
            },
            f,
        )
    args = [
        "-u", demo.origin + "/",
        "--scope", "folder",
        "-m", WAPITI_LONG if long else WAPITI_SHORT,
        # In wapiti's cookie jar (not a Cookie header, which its HTTP library drops when
        # following a redirect), so the page after a form's 303 is seen signed in too.
        "-c", cookie_file,
        # The session-bound token is not a parameter to attack: every payload there is
        # refused before any handler runs.
        "--skip", "csrf",
        "-H", f"Origin: {demo.origin}",
        "-A", "cista-scan wapiti",
        "-d", "6" if long else "3",
        "--max-links-per-page", "200" if long else "40",
        "--max-scan-time", "1200" if long else "150",
        "--max-attack-time", "300" if long else "25",
        "-t", "20",
        "-f", "json",
        "-o", report,
        "--store-session", os.path.join(out, "session"),
        "--store-config", os.path.join(out, "config"),
        "--flush-session",
        "--endpoint", nowhere,
        "--no-bugreport",
        "-v", "1",
    ]
    if long:
        args += ["-l", "2"]
    for path in START[role]:
        args += ["-s", demo.origin + path]
    for pattern in WAPITI_EXCLUDED[role]:
        args += ["-x", demo.origin + pattern]
    if repeats:
        args += [arg for url in repeats for arg in ("-x", url)]
        run.notes.append(f"{len(repeats)} forms that repeat another's route and fields left out")
    # mod_wapp (never selected) is still built by wapiti 3.0.4, and its constructor fetches
    # a database from the Internet unless it finds one here: an empty one it is.
    os.makedirs(os.path.join(out, "config"), exist_ok=True)
    with open(os.path.join(out, "config", "apps.json"), "w") as f:
        f.write("{}")
    started = time.monotonic()
    with open(os.path.join(out, "output.txt"), "w") as output:
        code = subprocess.run(
            [wapiti_python(), "-c", WAPITI_LAUNCHER, *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=out,
        ).returncode
    run.seconds = time.monotonic() - started
    with open(os.path.join(out, "output.txt")) as f:
        text = f.read()
    if code != 0 or not os.path.exists(report):
        run.findings.append(f"wapiti failed (exit {code}); last lines:\n" + "\n".join(text.splitlines()[-15:]))
        return run
    with open(report) as f:
        data = json.load(f)
    xss_protection = Browser(demo).send("GET", "/").headers.get("x-xss-protection")
    for kind, group in (("vulnerability", "vulnerabilities"), ("anomaly", "anomalies")):
        for category, items in data.get(group, {}).items():
            for item in items:
                what = f"{kind} [{category}] {item.get('method')} {item.get('path')} " \
                       f"{item.get('parameter') or ''}: {item.get('info')}"
                if item.get("info") == "X-XSS-Protection is not set" and xss_protection == "0":
                    # wapiti 3.0.4 wants "1"; OWASP (and current wapiti, which dropped the
                    # check) wants "0", which the server sends (checked just above).
                    run.notes.append("accepted: X-XSS-Protection is 0 as OWASP recommends "
                                     "(wapiti 3.0.4 still asks for 1)")
                    continue
                run.findings.append(what)
    crawled = sorted(set(re.findall(r"^\[\+\] (?:GET|POST) (\S+)", text, re.M)))
    run.detail = f"wapiti crawled {len(crawled)} resources"
    return run


SQLMAP_FINDING = re.compile(
    r"is vulnerable|identified the following injection point"
    r"|might be injectable|might be vulnerable to cross-site scripting|"
    r"unhandled exception",
    re.I,
)
# A parameter sqlmap's first boolean test flags, before it checks the flag itself.
SQLMAP_TENTATIVE = re.compile(r"parameter '([^']+)' appears to be .* injectable", re.I)
# ...and the verdict of that check when the flag was wrong (a page that differs from one
# request to the next, such as one carrying a fresh submission id, makes the first test flag).
SQLMAP_RETRACTED = re.compile(r"parameter '([^']+)' does not seem to be injectable", re.I)


def sqlmap_findings(output: str) -> list[str]:
    """The lines of sqlmap's output that are findings. A parameter its first test flags
    counts unless sqlmap's own false-positive check then retracts it for that parameter."""
    findings = []
    tentative: dict[str, str] = {}
    checked_false = False
    for line in output.splitlines():
        flagged = SQLMAP_TENTATIVE.search(line)
        if flagged:
            tentative[flagged.group(1)] = line.strip()
            checked_false = False
            continue
        if "false positive or unexploitable injection point detected" in line:
            checked_false = True
            continue
        retracted = SQLMAP_RETRACTED.search(line)
        if retracted and checked_false:
            tentative.pop(retracted.group(1), None)
            checked_false = False
            continue
        if SQLMAP_FINDING.search(line):
            findings.append(line.strip())
    return findings + list(tentative.values())


def sqlmap_binary() -> str:
    here = os.path.dirname(sys.executable)
    sqlmap = shutil.which("sqlmap", path=here + os.pathsep + os.environ.get("PATH", ""))
    if not sqlmap:
        raise RuntimeError("sqlmap is not installed beside this Python (pip install sqlmap)")
    return sqlmap


def run_sqlmap(demo: Demo, token: str, run: Run, targets: list[dict], long: bool, tmp: str) -> None:
    """sqlmap on each target in turn; adds its findings, time and targets to `run`."""
    out = os.path.join(tmp, f"sqlmap-{run.role}")
    os.makedirs(out, exist_ok=True)
    common = [
        "--batch",
        "--cookie", f"{SESSION_COOKIE}={token}",
        "--drop-set-cookie",
        "--headers", f"Origin: {demo.origin}",
        "--user-agent", "cista-scan sqlmap",
        "--skip", "csrf",
        "--timeout", "20",
        "--retries", "1",
        "--disable-coloring",
        # A form's answer is its 303 and where it leads: following it would re-send the
        # POST to the next page and compare pages that never change.
        "--ignore-redirects",
        # Every page carries a fresh CSP nonce (and forms a fresh submission id) in its
        # markup, so no two responses are byte-identical and sqlmap falls back to a fuzzy
        # ratio that can flag a form by chance (POST /me/password once did, 1 run in 6).
        # Comparing the visible text only leaves what a boolean injection would change.
        "--text-only",
        # A 429 is an answer like any other here: the change-password form locks a requester
        # after five wrong current passwords (as sign-in does), and sqlmap would otherwise
        # slow itself down to one request every few seconds for the rest of that form.
        "--ignore-code", "429",
        "--output-dir", out,
    ]
    if long:
        # sqlmap cannot refresh the token (--csrf-token) with more than one thread; the one
        # in the form data is bound to the session, not to a request, so it stays valid.
        common += ["--level", "3", "--risk", "2", "--technique", "BEUSTQ", "--threads", "4",
                   "--time-limit", str(LONG_TARGET_SECONDS)]
    else:
        # Boolean-based blind tests on every parameter, after sqlmap's heuristics (SQL
        # error messages, reflected XSS, file inclusion), which run in both forms.
        common += ["--level", "1", "--risk", "1", "--technique", "B"]
    started = time.monotonic()
    for target in targets:
        number = len(run.targets)
        run.targets.append(f"{target['method']} {shape(urllib.parse.urlsplit(target['url']).path)}")
        args = [sqlmap_binary(), "-u", target["url"], *common]
        if target["data"] is not None:
            args += ["--data", target["data"]]
            if not long:
                # The token is read afresh from the form's page before each request.
                args += ["--csrf-token", "csrf", "--csrf-url", target["page"]]
        target_started = time.monotonic()
        result = subprocess.run(
            args, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=out
        )
        if long and time.monotonic() - target_started >= LONG_TARGET_SECONDS - 1:
            run.notes.append(f"{run.targets[-1]}: stopped at the {LONG_TARGET_SECONDS} s limit")
        with open(os.path.join(out, f"target-{number}.txt"), "w") as f:
            f.write(" ".join(args) + "\n\n" + result.stdout + result.stderr)
        where = f"{target['method']} {urllib.parse.urlsplit(target['url']).path}"
        for line in sqlmap_findings(result.stdout + result.stderr):
            run.findings.append(f"{where}: {line}")
        if result.returncode != 0:
            run.findings.append(f"{where}: sqlmap failed (exit {result.returncode}), see {out}")
    run.seconds += time.monotonic() - started


# --- the whole scan -----------------------------------------------------------------------------


def judge(demo: Demo, run: Run, token: str) -> None:
    """What the server saw during the run (its requests are in `run.requests`): 5xx answers
    and the signed-in pages reached; and whether the session outlived the scan."""
    errors = collections.Counter(
        f"{r['method']} {r['route']} {r['status']}" for r in run.requests if r["status"] >= 500
    )
    for what, n in sorted(errors.items()):
        run.findings.append(f"server answered {what} ({n}×)")
    reached = {r["route"] for r in run.requests if 200 <= r["status"] < 300}
    missing = [route for route in MUST_REACH[run.role] if route not in reached]
    if missing:
        run.findings.append(f"did not reach the signed-in pages {', '.join(missing)}")
    if not session_alive(demo, token):
        run.findings.append("the session did not survive the scan (a form signed it out?)")


def report(run: Run) -> None:
    signed_in = collections.Counter(
        r["route"]
        for r in run.requests
        if SIGNED_IN_ROUTES.match(r["route"]) and r["route"] not in PUBLIC_ROUTES and 200 <= r["status"] < 300
    )
    statuses = collections.Counter(r["status"] // 100 for r in run.requests)
    print(f"\n--- {run.tool} as {run.role}: {run.seconds:.0f} s, {len(run.requests)} requests "
          f"({', '.join(f'{k}xx {v}' for k, v in sorted(statuses.items()))}); {run.detail}")
    print(f"    signed-in pages answered 2xx ({sum(signed_in.values())} requests on "
          f"{len(signed_in)} routes):")
    for route, n in sorted(signed_in.items()):
        print(f"      {n:6d}  {route}")
    if run.targets:
        print(f"    {run.tool} targets: {'; '.join(run.targets)}")
    for note in run.notes:
        print(f"    note: {note}")
    for finding in run.findings:
        print(f"    FINDING: {finding}")
    if not run.findings:
        print("    findings: none")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", help="path to the cista binary")
    parser.add_argument("--long", action="store_true", help="every module and form, deeper sqlmap")
    parser.add_argument("--only", choices=["wapiti", "sqlmap"], help="run one scanner only")
    parser.add_argument("--role", choices=["owner", "manager"], help="scan with one session only")
    parser.add_argument("--keep", metavar="DIR", help="keep the reports and logs in DIR")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    tools = [args.only] if args.only else ["wapiti", "sqlmap"]
    started = time.monotonic()
    runs: list[Run] = []
    tmp, tmp_holder = scratch("cista-scan-", args.keep)
    demo = Demo(binary, tmp)
    try:
        log(f"demo on {demo.origin} after {time.monotonic() - started:.0f} s (data in {demo.data})")
        for role in [args.role] if args.role else ["owner", "manager"]:
            # Signed in just before its scans: a session left idle for 30 minutes (the
            # owner's long scans) ends.
            if role == "owner":
                token = sign_in(demo, OWNER_EMAIL, authenticator=False)
                log("signed in as the owner, Manuel")
            else:
                token = sign_in(demo, MANAGER_EMAIL, authenticator=True)
                log("signed in as the manager, Olivia, with an authenticator")
                make_draft(demo, token)
            # The forms and queries of the signed-in pages as the demo stands before any
            # scanner (wapiti's attacks add many ballots and people, not worth a crawl each).
            offset = demo.log_size()
            crawl_started = time.monotonic()
            pages, found = crawl(demo, token, START[role], per_route=50 if args.long else 3)
            crawl_requests = demo.requests_since(offset)
            crawl_seconds = time.monotonic() - crawl_started
            if "wapiti" in tools:
                log(f"wapiti as the {role}…")
                offset = demo.log_size()
                repeats = repeated_forms(found)
                run = run_wapiti(demo, token, role, args.long, tmp, repeats)
                run.requests = demo.requests_since(offset)
                judge(demo, run, token)
                report(run)
                runs.append(run)
            if "sqlmap" in tools:
                log(f"sqlmap as the {role}…")
                targets = distinct(found, args.long)
                targets.sort(key=lambda t: bool(LAST.search(urllib.parse.urlsplit(t["url"]).path)))
                run = Run("sqlmap", role)
                run.detail = f"{len(pages)} pages crawled by this script, {len(targets)} forms and queries"
                offset = demo.log_size()
                run_sqlmap(demo, token, run, targets, args.long, tmp)
                # The crawl that found the targets counts as this run's.
                run.requests = crawl_requests + demo.requests_since(offset)
                run.seconds += crawl_seconds
                judge(demo, run, token)
                report(run)
                runs.append(run)
    finally:
        demo.stop()
        if tmp_holder:
            tmp_holder.cleanup()
    findings = sum(len(r.findings) for r in runs)
    total = sum(len(r.requests) for r in runs)
    form = "long" if args.long else "short"
    print(f"\nscan ({form} form): {len(runs)} runs, {total} requests, {findings} findings, "
          f"{time.monotonic() - started:.0f} s")
    if findings:
        print("scan FAILED")
        return 1
    print("scan OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
