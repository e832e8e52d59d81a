#!/usr/bin/env python3
"""Outside-in TLS check of a running Cista server with sslyze.

Starts `cista demo` on a free port with a scratch data directory, scans it with sslyze, and
fails unless: Mozilla's "intermediate" profile is met (with the demo's local CA as trust
anchor); SSL 2/3 and TLS 1.0/1.1 are refused; every accepted TLS 1.2 suite is ECDHE with an
AEAD cipher; TLS 1.3 is offered; HSTS is sent with max-age of at least one year; and the
usual attacks (Heartbleed, ROBOT, CCS injection, compression, insecure renegotiation) do not
apply.

Usage: scripts/tls-check.py PATH/TO/cista   (sslyze must be importable: pip install sslyze)
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CISTA_")}
        server = subprocess.Popen(
            [binary, "demo", "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            for line in server.stdout:
                if "Press Ctrl-C" in line:
                    break
            else:
                print("tls-check: the server did not start", file=sys.stderr)
                return 1
            out = os.path.join(tmp, "sslyze.json")
            scan = subprocess.run(
                [
                    sys.executable, "-m", "sslyze",
                    "--mozilla_config=intermediate",
                    "--http_headers",
                    f"--certinfo_ca_file={data}/tls/ca.pem",
                    f"--json_out={out}",
                    f"localhost:{port}",
                ],
                capture_output=True,
                text=True,
            )
            compliance = scan.stdout[scan.stdout.find("COMPLIANCE AGAINST"):].strip()
            print(compliance)
            if scan.returncode != 0:
                problems.append("not compliant with Mozilla's intermediate configuration")
            with open(out) as f:
                report = json.load(f)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    result = report["server_scan_results"][0]["scan_result"]

    def accepted(name: str) -> list[str]:
        section = result[name]
        if section["status"] != "COMPLETED":
            problems.append(f"{name}: scan {section['status']}")
            return []
        return [c["cipher_suite"]["name"] for c in section["result"]["accepted_cipher_suites"]]

    for old in ["ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"]:
        suites = accepted(f"{old}_cipher_suites")
        print(f"{old}: {'refused' if not suites else 'ACCEPTED ' + ', '.join(suites)}")
        if suites:
            problems.append(f"{old} is accepted")
    tls12 = accepted("tls_1_2_cipher_suites")
    print("tls_1_2:", ", ".join(tls12))
    for suite in tls12:
        if not re.match(r"^TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM|CHACHA20_POLY1305)_", suite):
            problems.append(f"weak or non-forward-secret TLS 1.2 suite {suite}")
    tls13 = accepted("tls_1_3_cipher_suites")
    print("tls_1_3:", ", ".join(tls13))
    if not tls13:
        problems.append("TLS 1.3 is not offered")

    hsts = (result["http_headers"].get("result") or {}).get("strict_transport_security_header")
    print("hsts:", hsts)
    if not hsts or hsts.get("max_age", 0) < 31536000:
        problems.append("HSTS missing or max-age under one year")

    checks = {
        "heartbleed": lambda r: not r["is_vulnerable_to_heartbleed"],
        "openssl_ccs_injection": lambda r: not r["is_vulnerable_to_ccs_injection"],
        "tls_compression": lambda r: not r["supports_compression"],
        "robot": lambda r: "NOT_VULNERABLE" in r["robot_result"],
        "session_renegotiation": lambda r: r["supports_secure_renegotiation"] or not r["is_vulnerable_to_client_renegotiation_dos"],
    }
    for name, ok in checks.items():
        section = result[name]
        good = section["status"] == "COMPLETED" and ok(section["result"])
        print(f"{name}: {'ok' if good else 'PROBLEM'}")
        if not good:
            problems.append(name)

    if problems:
        print("tls-check FAILED:", "; ".join(problems))
        return 1
    print("tls-check OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
