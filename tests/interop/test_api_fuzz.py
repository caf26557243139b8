"""A schema-driven fuzzer we did not write (schemathesis, pinned in requirements.txt) reads the
API document Ström serves and sends every operation it lists requests made from its schemas,
valid and invalid, with an API token and with a 1.6 charge point connected (the PyPI `ocpp`
library, which checks every CALL Ström sends it against the official schema), so that command
endpoints get real answers. Every conformance check it has is enabled; the run must report no
failure. The run is bounded: a fixed number of examples per operation, a fixed seed, no
shrinking, and a time limit on the whole."""

import asyncio
import datetime
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse
import uuid

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from conftest import Strom

STATION = "FUZZ-1"
# The station that DELETE decommissions.
DECOMMISSIONED = "FUZZ-GONE"
TAG = "FUZZTAG1"
# Examples per operation and phase, and the seed: the same requests on every run. A longer or
# other run, to look further: STROM_FUZZ_EXAMPLES=200 STROM_FUZZ_SEED=7 ./test.
MAX_EXAMPLES = int(os.environ.get("STROM_FUZZ_EXAMPLES", "15"))
SEED = int(os.environ.get("STROM_FUZZ_SEED", "26"))
# The whole run's bound (seconds); it takes about a minute on two busy cores.
RUN_TIMEOUT = 600

# A reply to every CALL a CSMS can send a 1.6 charge point (OCPP 1.6 §5 and the security
# extension), each valid by the official schema: the station takes whatever it is asked.
ANSWERS = {
    Action.cancel_reservation: lambda: call_result.CancelReservation(status="Accepted"),
    Action.certificate_signed: lambda: call_result.CertificateSigned(status="Accepted"),
    Action.change_availability: lambda: call_result.ChangeAvailability(status="Accepted"),
    Action.change_configuration: lambda: call_result.ChangeConfiguration(status="Accepted"),
    Action.clear_cache: lambda: call_result.ClearCache(status="Accepted"),
    Action.clear_charging_profile: lambda: call_result.ClearChargingProfile(status="Accepted"),
    Action.data_transfer: lambda: call_result.DataTransfer(status="Accepted"),
    Action.delete_certificate: lambda: call_result.DeleteCertificate(status="Accepted"),
    Action.extended_trigger_message: lambda: call_result.ExtendedTriggerMessage(status="Accepted"),
    Action.get_composite_schedule: lambda: call_result.GetCompositeSchedule(status="Rejected"),
    Action.get_configuration: lambda: call_result.GetConfiguration(
        configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}], unknown_key=[]
    ),
    Action.get_diagnostics: lambda: call_result.GetDiagnostics(),
    Action.get_installed_certificate_ids: lambda: call_result.GetInstalledCertificateIds(status="NotFound"),
    Action.get_local_list_version: lambda: call_result.GetLocalListVersion(list_version=0),
    Action.get_log: lambda: call_result.GetLog(status="Rejected"),
    Action.install_certificate: lambda: call_result.InstallCertificate(status="Accepted"),
    Action.remote_start_transaction: lambda: call_result.RemoteStartTransaction(status="Accepted"),
    Action.remote_stop_transaction: lambda: call_result.RemoteStopTransaction(status="Accepted"),
    Action.reserve_now: lambda: call_result.ReserveNow(status="Accepted"),
    Action.reset: lambda: call_result.Reset(status="Accepted"),
    Action.send_local_list: lambda: call_result.SendLocalList(status="Accepted"),
    Action.set_charging_profile: lambda: call_result.SetChargingProfile(status="Accepted"),
    Action.signed_update_firmware: lambda: call_result.SignedUpdateFirmware(status="Accepted"),
    Action.trigger_message: lambda: call_result.TriggerMessage(status="Accepted"),
    Action.unlock_connector: lambda: call_result.UnlockConnector(status="Unlocked"),
    Action.update_firmware: lambda: call_result.UpdateFirmware(),
}


class Station(ChargePoint):
    """A charge point that accepts every command; the library's router finds the handlers by
    their names, which `on` records."""


for _action, _answer in ANSWERS.items():

    def _handler(self, _answer=_answer, **kwargs):
        return _answer()

    _handler.__name__ = f"on_{_action.name}"
    setattr(Station, _handler.__name__, on(_action)(_handler))


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ConnectedStation:
    """The station on a thread of its own, with its own event loop, for as long as the fuzzer
    runs. Before the fuzzer starts it has booted, reported a fault, and started a transaction
    with meter values, so that the lists have rows to show."""

    def __init__(self, strom):
        self.strom = strom
        self.ready = threading.Event()
        self.error = None
        self.ended = None
        self.loop = asyncio.new_event_loop()
        self.stopping = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("the station did not connect in time")
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(15)

    def _run(self):
        try:
            self.loop.run_until_complete(self._session())
        except Exception as e:  # reported to the test through `error`
            self.error = e
            self.ready.set()

    async def _session(self):
        self.stopping = asyncio.Event()
        async with websockets.connect(self.strom.ws_url(STATION), subprotocols=["ocpp1.6"]) as ws:
            cp = Station(STATION, ws)
            listener = asyncio.create_task(cp.start())
            boot = await cp.call(call.BootNotification(charge_point_vendor="Fuzz", charge_point_model="Any"), suppress=False)
            assert boot.status == "Accepted", boot
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"), suppress=False)
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="HighTemperature", status="Faulted", info="cable hot"),
                suppress=False,
            )
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"), suppress=False)
            started = await cp.call(
                call.StartTransaction(connector_id=1, id_tag=TAG, meter_start=1000, timestamp=now()), suppress=False
            )
            await cp.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=[{"timestamp": now(), "sampledValue": [{"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}],
                ),
                suppress=False,
            )
            self.ready.set()
            await self.stopping.wait()
            # How the connection ended, if it did before the run did.
            if listener.done():
                self.ended = listener.exception() or RuntimeError("the station's connection ended during the run")
            listener.cancel()


def backends():
    """SQLite, and PostgreSQL too when STROM_TEST_POSTGRES_URL names a server (as for the Rust
    tests): a database of its own there, which Ström creates."""
    url = os.environ.get("STROM_TEST_POSTGRES_URL")
    found = [pytest.param(None, id="sqlite")]
    if url:
        base = url.rsplit("/", 1)[0]
        found.append(pytest.param(f"{base}/strom_fuzz_{uuid.uuid4().hex[:12]}", id="postgres"))
    return found


@pytest.fixture(params=backends())
def strom_with_token(request, tmp_path):
    # Webhooks the fuzzer subscribes may post only to loopback addresses.
    server = Strom(tmp_path, api_open=False, database=request.param, config='webhook_hosts = ["127.0.0.1", "localhost"]\n')
    yield server
    server.stop()
    if request.param is not None and shutil.which("dropdb"):
        # The run's database goes with it (the server named in the URL, its user).
        url = urllib.parse.urlparse(request.param)
        subprocess.run(
            ["dropdb", "--if-exists", "-h", url.hostname, "-p", str(url.port or 5432), "-U", url.username or "postgres", url.path.lstrip("/")],
            capture_output=True,
        )


def fuzzer_config(strom, transaction, fault, spare_token):
    """schemathesis.toml for the run: the token; the ids of what is there, drawn for path
    parameter `id` most of the time (else the fuzzer's own), so that commands reach the
    connected station and reads find rows; and the token that revoking may revoke."""
    return f"""
seed = {SEED}
workers = 1
request-timeout = 30

[auth.openapi.bearer]
bearer = "{strom.token}"

[generation]
max-examples = {MAX_EXAMPLES}
no-shrink = true
database = "none"

[dictionaries]
station = {{ values = ["{STATION}"] }}
transaction = {{ values = [{transaction}] }}
fault = {{ values = [{fault}] }}

# Under a station, but not the station itself: DELETE would decommission it (its session is
# closed and it may not come back), PUT may set it Rejected; both end the commands' real
# answers for the rest of the run. Those two operations draw their own ids.
[[operations]]
include-path-regex = "^/api/v1/stations/[{{]id[}}]/"
parameters = {{ "path.id" = {{ dictionary = "station", probability = 0.8 }} }}

[[operations]]
include-path-regex = "^/api/v1/transactions/[{{]id[}}]"
parameters = {{ "path.id" = {{ dictionary = "transaction", probability = 0.8 }} }}

[[operations]]
include-path-regex = "^/api/v1/faults/[{{]id[}}]"
parameters = {{ "path.id" = {{ dictionary = "fault", probability = 0.8 }} }}

# A 422 for a request the schema allows, only on the operations that send the station a command:
# what they ask is translated into the station's OCPP version and checked against that version's
# official schema before it is sent, and some values the schema allows are refused there (a 1.6
# idTag, parentIdTag or AuthorizationKey is at most 20 characters where 2.0.1 takes 36 or 40; a
# stop for a transaction that is not running on that station; a start with a token Ström would
# refuse, unless forced). For sendCommand the body is the payload of the action named in the
# path, whose schema OpenAPI 3.0 cannot tie to a path parameter. The document gives 422 for each
# of these; 400 and every other status stay failures.
[[operations]]
include-operation-id = ["sendCommand", "remoteStart", "remoteStop", "rotatePassword", "sendLocalList", "fetchConfiguration", "setConfiguration"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

# DELETE /stations/{id} decommissions a station: its session is closed and its history stays
# readable (issue 26 item 3; RFC 9110 §9.3.5 lets a DELETE keep representations). It is sent
# for a station registered for it alone, whatever the phase (the fuzzer reuses ids it read in
# answers, and decommissioning the connected station would end the commands' real answers for
# the rest of the run); and the stateful phase does not chain it, since its use_after_free
# check would take the history still served for a deleted resource.
[[operations]]
include-operation-id = "decommissionStation"
parameters = {{ "path.id" = "{DECOMMISSIONED}" }}
phases.stateful.enabled = false

# The live event stream never ends, so every request to it would only run into the timeout. Its
# filters are listEvents' (fuzzed), its events are the list's, and crates/strom/tests/events.rs
# reads it as a client would.
[[operations]]
include-operation-id = "streamEvents"
enabled = false

# A webhook's URL may name only the hosts the server allows (webhook_hosts: loopback here, so
# that deliveries stay on this machine), and its host and port must make an address: 422 for a
# schema-valid URL that does not, as the document says.
# An alert rule's kind decides which of minutes, count and category it takes (a rule of one
# kind with another's field, or without its own, is a 422), which OpenAPI 3.0 cannot tie to the
# value of kind.
[[operations]]
include-operation-id = "createAlertRule"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "422", "5xx"]

[[operations]]
include-operation-id = "createWebhook"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "422", "5xx"]

# A tariff is checked as OCPI and Ström price it, beyond what OpenAPI 3.0 can say: an end date
# after the start, min_price not above max_price, at most 28 significant digits, the body's id
# the path's (422); a POST for an id in force is a 409.
[[operations]]
include-operation-id = ["createTariff", "putTariff"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "409", "422", "5xx"]

# A meter key must be a P-256 or P-384 public key, which no schema can say of a string (422).
[[operations]]
include-operation-id = "putMeterKey"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "422", "5xx"]

# A time zone must be an IANA name, which the schema does not list (422).
[[operations]]
include-operation-id = "putStationTimeZone"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "422", "5xx"]

# Revoking is tested on a token made for it: any other id could be the fuzzer's own token
# (the first ids are small integers, which the fuzzer draws often), and a revoked token would
# leave every later request a 401.
[[operations]]
include-operation-id = "revokeApiToken"
parameters = {{ "path.id" = {spare_token} }}
"""


def spare_token(strom):
    """The id of a second API token, for the fuzzer to revoke."""
    subprocess.run(
        [os.environ["STROM_BIN"], "token", "create", "--role", "viewer", "--name", "fuzz-spare", "--database", strom.database],
        check=True, capture_output=True, env={**os.environ, "STROM_LOG": "warn"},
    )
    return next(t["id"] for t in strom.items("/api/v1/tokens") if t["name"] == "fuzz-spare")


def test_the_fuzzer_finds_no_failure(strom_with_token, tmp_path):
    strom = strom_with_token
    assert strom.http("POST", "/api/v1/id-tokens", {"id_token": TAG, "status": "Accepted"})[0] == 201
    assert strom.http("PUT", f"/api/v1/stations/{DECOMMISSIONED}", {"registration_status": "Accepted"})[0] == 200
    spare = spare_token(strom)
    report = tmp_path / "report.json"
    schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    with ConnectedStation(strom) as station:
        transaction = strom.items("/api/v1/transactions")[0]["id"]
        fault = strom.items("/api/v1/faults")[0]["id"]
        config = tmp_path / "schemathesis.toml"
        config.write_text(fuzzer_config(strom, transaction, fault, spare))
        run = subprocess.run(
            [
                schemathesis, "--config-file", str(config), "run", f"http://{strom.addr}/api/v1/openapi.json",
                "--checks", "all", "--report", "json", "--report-json-path", str(report), "--no-color",
            ],
            capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path,
        )
    assert station.error is None, station.error
    # The station stayed connected through the whole run: the commands' answers were real.
    assert station.ended is None, f"the station's connection ended: {station.ended!r}, {strom.get(f'/api/v1/stations/{STATION}')}"
    answered = [c for c in strom.items(f"/api/v1/stations/{STATION}/commands") if c["status"] == "Answered"]
    assert len(answered) >= 20, f"only {len(answered)} commands reached the station and were answered"
    assert report.exists(), f"schemathesis wrote no report:\n{run.stdout[-5000:]}\n{run.stderr[-5000:]}"
    result = json.loads(report.read_text())
    output = run.stdout[-15000:]
    assert result["complete"] and result["stop_reason"] == "completed", output
    operations = result["operations"]
    # Every operation but the live event stream (disabled above: it never ends).
    assert operations["tested"] == operations["selected"] == operations["total"] - 1 >= 50, operations
    # Not an empty run: the token worked (no operation answered only 401/403) and many cases ran.
    assert result["warnings"]["missing_auth"] == [], result["warnings"]["missing_auth"]
    assert result["test_cases"]["generated"] >= 1000, result["test_cases"]
    failures = [f"{f['code']} {f['title']} ({f['count']}): {', '.join(f['operations'])}" for f in result["failures"]]
    errors = [json.dumps(e) for e in result["errors"]]
    assert not failures and not errors, "\n".join(failures + errors) + "\n\n" + output
    assert run.returncode == 0, output
