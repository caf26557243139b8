"""Starts a real `strom serve` (the binary in $STROM_BIN) on a free loopback port with a
temporary SQLite database, for interop tests that drive it with OCPP libraries we did not write."""

import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest


class Strom:
    def __init__(self, tmp_path):
        binary = os.environ.get("STROM_BIN")
        if not binary:
            raise RuntimeError("STROM_BIN is not set: run the tests through ./test")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--database", str(tmp_path / "strom.db"), "--api-open"],
            stdout=subprocess.PIPE,
            env={**os.environ, "STROM_LOG": "warn"},
            text=True,
        )
        line = self.proc.stdout.readline().strip()
        prefix = "strom listening on "
        if not line.startswith(prefix):
            self.proc.kill()
            raise RuntimeError(f"strom did not start: {line!r}")
        self.addr = line[len(prefix):]

    def ws_url(self, station_id):
        return f"ws://{self.addr}/ocpp/{station_id}"

    def http(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://{self.addr}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
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
