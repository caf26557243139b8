"""Starts a real `strom serve` (the binary in $STROM_BIN) on a free loopback port with a
temporary SQLite database, for interop tests that drive it with OCPP libraries we did not write;
`strom_tls` adds a TLS listener whose certificates openssl makes for the test."""

import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest


class Strom:
    def __init__(self, tmp_path, tls=None, api_open=True, database=None, config=None):
        binary = os.environ.get("STROM_BIN")
        if not binary:
            raise RuntimeError("STROM_BIN is not set: run the tests through ./test")
        # A SQLite file of the test's own unless a database URL is given.
        database = database or str(tmp_path / "strom.db")
        self.database = database
        # Without --api-open, every request needs a token: an admin one is made first, in the
        # database the server then opens (`strom token create` prints it on its last line).
        self.token = None
        if not api_open:
            created = subprocess.run(
                [binary, "token", "create", "--role", "admin", "--name", "interop", "--database", database],
                check=True, capture_output=True, text=True, env={**os.environ, "STROM_LOG": "warn"},
            )
            self.token = created.stdout.strip().splitlines()[-1]
        command = [binary, "serve", "--listen", "127.0.0.1:0", "--database", database]
        if api_open:
            command.append("--api-open")
        if config is not None:
            # Settings from a configuration file of the test's own (TOML).
            path = tmp_path / "strom.toml"
            path.write_text(config)
            command += ["--config", str(path)]
        if tls is not None:
            command += ["--tls-listen", "127.0.0.1:0", "--tls-cert", tls.cert, "--tls-key", tls.key]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, env={**os.environ, "STROM_LOG": "warn"}, text=True)
        self.addr = self._address("strom listening on ")
        self.tls_addr = None if tls is None else self._address("strom listening for TLS on ")
        self.tls = tls

    def _address(self, prefix):
        line = self.proc.stdout.readline().strip()
        if not line.startswith(prefix):
            self.proc.kill()
            raise RuntimeError(f"strom did not start: {line!r}")
        return line[len(prefix):]

    def wss_url(self, station_id):
        """The TLS listener's URL, by the name its certificate carries."""
        return f"wss://localhost:{self.tls_addr.rsplit(':', 1)[1]}/ocpp/{station_id}"

    def ssl_context(self):
        """A client context that trusts only the test's CA."""
        return ssl.create_default_context(cafile=self.tls.ca)

    def ws_url(self, station_id):
        return f"ws://{self.addr}/ocpp/{station_id}"

    def http(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(f"http://{self.addr}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode())

    def get(self, path):
        status, body = self.http("GET", path)
        assert status == 200, (path, status, body)
        return body

    def items(self, path):
        """Every item of a list: the API answers pages, {"items": [...], "next_cursor": ... | null}."""
        separator = "&" if "?" in path else "?"
        page = self.get(path)
        items = list(page["items"])
        while page["next_cursor"] is not None:
            page = self.get(f"{path}{separator}cursor={page['next_cursor']}")
            items.extend(page["items"])
        return items

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture
def strom(tmp_path):
    server = Strom(tmp_path)
    yield server
    server.stop()


class Certificates:
    """A CA and a server certificate for localhost that it signs (EC P-256), made by openssl."""

    def __init__(self, folder):
        def openssl(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True)

        self.ca, ca_key = str(folder / "ca.pem"), str(folder / "ca.key")
        self.cert, self.key, csr = str(folder / "server.pem"), str(folder / "server.key"), str(folder / "server.csr")
        extensions = folder / "server.ext"
        extensions.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        openssl("req", "-x509", *curve, "-keyout", ca_key, "-out", self.ca, "-days", "2", "-subj", "/CN=Interop test CA")
        openssl("req", *curve, "-keyout", self.key, "-out", csr, "-subj", "/CN=localhost")
        openssl(
            "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", ca_key, "-set_serial", "0x5e7f01",
            "-days", "2", "-extfile", str(extensions), "-out", self.cert,
        )


@pytest.fixture
def strom_tls(tmp_path):
    server = Strom(tmp_path, tls=Certificates(tmp_path))
    yield server
    server.stop()
