#!/usr/bin/env python3
"""Property-based tests of Cista's JSON API with schemathesis, against its OpenAPI document.

Starts `cista demo` on a free loopback port with a scratch data directory (scan.py's Demo),
its quick poll closing 10 seconds after set-up (`--quick-poll-seconds 10`), then gets the
credentials the API takes, the way their holders would:

- two staff app tokens from `cista app-token create` on the demo's data directory: one of
  purpose `voting.results` for Palm Court, one of purpose `forms.submit` for River Watch;
- a collector's device token: the pairing code of the phone link the demo prints for Sam
  Rivera, exchanged through `POST /api/v1/devices/pair`.

Schemathesis then reads `/api/v1/openapi.json` from the server and runs each operation with
generated requests (examples, coverage and fuzzing phases; valid and invalid data), once per
credential, each run limited to the operations that credential is for:

- voting:     the voting.results token on /token, /ballots, /ballots/{id}/results, /trust;
- device:     the device token on the collection and intake operations and /devices/pair;
- app:        the forms.submit token on the same operations.

Path parameters that name a record form or a ballot are given real ids of the demo some of the
time (schemathesis's `[parameters]`), so the generated bodies reach the checks behind the 404.
The voting run waits until the worker has closed the quick poll, so that one of those ballots
has certified results: `GET /ballots/{id}/results` is then answered 200 as well as
`403 results_sealed`, and its results are checked against their documented schema.
Every answer is checked for: no 5xx (`not_a_server_error`), a body that conforms to the schema
documented for its status (`response_schema_conformance`), a status the document lists
(`status_code_conformance`) and a documented content type (`content_type_conformance`).
Any failure fails the script (exit 1), as does a 5xx in the server's log.

The number of examples per operation is bounded (`--examples`, 200 by default), so that CI's
run takes under a minute on two cores (debug build).

Usage: scripts/api-fuzz.py [--examples N] [--keep DIR] PATH/TO/cista
Needs: schemathesis (pinned in .ci/run) in this Python's environment.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

# scan.py is imported from beside this script; no __pycache__ is left in the clone.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scan import Demo, scratch  # noqa: E402  (the demo server, its log, its printed links)

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
VOTING_PATHS = r"^/(token|ballots.*|trust)$"
COLLECTION_TAGS = ("collection", "intake")


def log(message: str) -> None:
    print(f"api-fuzz: {message}", flush=True)


def app_token(binary: str, data: str, org: str, purpose: str) -> str:
    """A new app token, from the command line as staff would make one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CISTA_")}
    out = subprocess.run(
        [binary, "app-token", "create", "--data-dir", data, "--org", org, "--purpose", purpose,
         "--label", "API fuzz", "--days", "1"],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    m = re.search(r"^(cista_[A-Za-z0-9_-]{43})$", out, re.M)
    if not m:
        raise RuntimeError(f"no token in the output of app-token create:\n{out}")
    return m.group(1)


def call(demo: Demo, method: str, path: str, token: str | None = None, body=None):
    headers = {"Accept": "application/json"}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(demo.origin + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, context=demo.context, timeout=30) as r:
        return json.load(r)


def ballots_once_one_closed(demo: Demo, token: str, within: float = 120.0) -> list[dict]:
    """The token's ballots, once the worker has closed one of them (the demo's quick poll), so
    that its results can be fetched. Fails after `within` seconds without a closed ballot."""
    deadline = time.monotonic() + within
    while True:
        ballots = call(demo, "GET", "/api/v1/ballots", token)
        if any(b.get("results") for b in ballots):
            return ballots
        if time.monotonic() > deadline:
            raise RuntimeError(f"no ballot closed within {within:.0f} s: {ballots}")
        time.sleep(1)


def device_token(demo: Demo) -> str:
    """Pairs a phone with the code of the first collector's printed link."""
    code = None
    for line in demo.lines:
        m = re.search(r"phone \(collector\): \S+#pair=(cista_pc_[A-Za-z0-9_-]+)", line)
        if m:
            code = m.group(1)
            break
    if not code:
        raise RuntimeError("the demo printed no collector's phone link")
    paired = call(demo, "POST", "/api/v1/devices/pair", body={"code": code, "device_name": "API fuzz"})
    return paired["token"]


def write_config(path: str, values: dict[str, list[str]]) -> None:
    """Real ids for the path parameters half of the time (the other half generated), so that
    generated bodies get past the 404 to the checks behind it."""
    lines = []
    for name, found in values.items():
        if found:
            quoted = ", ".join(json.dumps(v) for v in found)
            lines += [f"[dictionaries.{name}]", f"values = [{quoted}]", ""]
    lines.append("[parameters]")
    for name, found in values.items():
        if found:
            lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}')
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def a_record(demo: Demo, token: str, form: str, idempotency_key: str) -> str:
    """A record announcing a photo `p1`, sent with `token`, so that uploads (which only the
    record's sender may make) are tried against a real record this credential sent."""
    receipt = call(demo, "POST", f"/api/v1/forms/{form}/submissions", token, {
        "idempotency_key": idempotency_key,
        "payload": {
            "site": "Fuzz site", "clarity": "clear",
            "where": {"latitude": 45.5, "longitude": -122.67, "accuracy_m": 5},
            "photos": ["p1"],
        },
    })
    return receipt["submission"]


def schemathesis(demo: Demo, name: str, token: str, filters: list[str], examples: int,
                 tmp: str, config: str) -> tuple[int, float]:
    exe = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    report = os.path.join(tmp, f"{name}.junit.xml")
    command = [
        exe, "--config-file", config, "run", f"{demo.origin}/api/v1/openapi.json",
        "--checks", CHECKS,
        "--max-examples", str(examples),
        "--phases", "examples,coverage,fuzzing",
        "--header", f"Authorization: Bearer {token}",
        "--tls-verify", os.path.join(demo.data, "tls", "ca.pem"),
        "--workers", "2",
        "--seed", "13",
        "--no-shrink",
        "--suppress-health-check", "all",
        "--request-timeout", "30",
        # A refusal sent before the body was read (415, 413) ends its connection; the client's
        # pool can still hand that connection to the next POST, which then meets an EOF (seen
        # once on /devices/pair). A network-level failure is retried; any answer is judged.
        "--request-retries", "2",
        "--report", "junit", "--report-junit-path", report,
        "--output-sanitize", "true",
        *filters,
    ]
    started = time.monotonic()
    log(f"schemathesis, {name} run…")
    # Run in the scratch directory: schemathesis keeps a cache (.schemathesis/) where it runs.
    code = subprocess.run(command, cwd=tmp, env={**os.environ, "NO_COLOR": "1"}).returncode
    return code, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", help="path to the cista binary")
    parser.add_argument("--examples", type=int, default=200, help="examples per operation and run")
    parser.add_argument("--keep", metavar="DIR", help="keep the reports and the server log in DIR")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    started = time.monotonic()
    tmp, holder = scratch("cista-api-fuzz-", args.keep)
    # The quick poll closes 10 s after set-up (the least `cista demo` takes), so a ballot has
    # results to fetch by the time the voting run starts.
    demo = Demo(binary, tmp, ("--quick-poll-seconds", "10"))
    failed: list[str] = []
    try:
        log(f"demo on {demo.origin} after {time.monotonic() - started:.0f} s")
        voting = app_token(binary, demo.data, "palm-court", "voting.results")
        submit = app_token(binary, demo.data, "river-watch", "forms.submit")
        device = device_token(demo)
        forms = [f["form"] for f in call(demo, "GET", "/api/v1/forms", device)]
        ballots = [b["id"] for b in ballots_once_one_closed(demo, voting)]
        # One record from each credential: only a record's sender uploads its files (a device
        # also reads back its status; a forms.submit app token cannot, by design).
        by_device = a_record(demo, device, forms[0], "3f2a9c0d-41b7-4e65-9a1b-0c3d5e7f9a1b")
        by_app = a_record(demo, submit, forms[0], "8c1e5b7a-2d4f-4a69-b3c0-9e8d7f6a5b4c")
        tags = [a for t in COLLECTION_TAGS for a in ("--include-tag", t)]
        runs = [
            ("voting", voting, ["--include-path-regex", VOTING_PATHS], {"id": [str(b) for b in ballots]}),
            ("device", device, tags, {"form": forms, "id": [by_device], "name": ["p1"]}),
            ("app", submit, tags, {"form": forms, "id": [by_app], "name": ["p1"]}),
        ]
        offset = demo.log_size()
        for name, token, filters, values in runs:
            config = os.path.join(tmp, f"{name}.schemathesis.toml")
            write_config(config, values)
            code, seconds = schemathesis(demo, name, token, filters, args.examples, tmp, config)
            log(f"{name} run: exit {code} in {seconds:.0f} s")
            if code != 0:
                failed.append(f"schemathesis {name} run (exit {code})")
        errors = [r for r in demo.requests_since(offset) if r["status"] >= 500]
        requests = len(demo.requests_since(offset))
        for r in errors[:10]:
            failed.append(f"{r['status']} on {r['method']} {r['route']} in the server's log")
        log(f"{requests} requests answered, {len(errors)} with a 5xx")
    finally:
        demo.stop()
        if holder:
            holder.cleanup()
    print(f"\napi-fuzz: {len(failed)} failures, {time.monotonic() - started:.0f} s")
    for f in failed:
        print(f"  {f}")
    if failed:
        print("api-fuzz FAILED")
        return 1
    print("api-fuzz OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
