"""Interop with OCPP 2.0.1 stations we did not write: one built on the PyPI `ocpp==2.1.0`
library and one on the npm `ocpp-rpc@2.2.1` package in strictMode. Each runs a whole
transaction with meter values and an alert (NotifyEvent); the results are read back through
Ström's API."""

import asyncio
import json
import os
import subprocess

import websockets
from ocpp.v201 import ChargePoint, call

HERE = os.path.dirname(os.path.abspath(__file__))


def shutil_which(program):
    return any(os.access(os.path.join(d, program), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep))


async def run_python_station(url, **connect):
    async with websockets.connect(url, subprotocols=["ocpp2.0.1"], **connect) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
        cp = ChargePoint("PY-CS-1", ws)
        listener = asyncio.create_task(cp.start())
        try:
            boot = await cp.call(
                call.BootNotification(
                    charging_station={"vendorName": "PyVendor", "model": "PyModel201", "serialNumber": "PY-1"},
                    reason="PowerUp",
                ),
                suppress=False,
            )
            assert boot.status == "Accepted"
            await cp.call(
                call.StatusNotification(
                    timestamp="2026-11-26T10:00:00Z", connector_status="Available", evse_id=1, connector_id=1
                ),
                suppress=False,
            )
            auth = await cp.call(call.Authorize(id_token={"idToken": "PY201", "type": "ISO14443"}), suppress=False)
            assert auth.id_token_info["status"] == "Accepted"
            token = {"idToken": "PY201", "type": "ISO14443"}
            started = await cp.call(
                call.TransactionEvent(
                    event_type="Started",
                    timestamp="2026-11-26T10:01:00Z",
                    trigger_reason="Authorized",
                    seq_no=0,
                    transaction_info={"transactionId": "py-tx-1", "chargingState": "Charging"},
                    id_token=token,
                    evse={"id": 1, "connectorId": 1},
                    meter_value=[
                        {
                            "timestamp": "2026-11-26T10:01:00Z",
                            "sampledValue": [{"value": 3.25, "context": "Transaction.Begin", "unitOfMeasure": {"unit": "kWh"}}],
                        }
                    ],
                ),
                suppress=False,
            )
            assert started.id_token_info["status"] == "Accepted"
            await cp.call(
                call.TransactionEvent(
                    event_type="Updated",
                    timestamp="2026-11-26T10:15:00Z",
                    trigger_reason="MeterValuePeriodic",
                    seq_no=1,
                    transaction_info={"transactionId": "py-tx-1"},
                    meter_value=[
                        {
                            "timestamp": "2026-11-26T10:15:00Z",
                            "sampledValue": [
                                {"value": 5000, "context": "Sample.Periodic"},
                                {"value": 16.0, "context": "Sample.Periodic", "measurand": "Current.Import", "phase": "L1", "unitOfMeasure": {"unit": "A"}},
                            ],
                        }
                    ],
                ),
                suppress=False,
            )
            await cp.call(
                call.NotifyEvent(
                    generated_at="2026-11-26T10:16:00Z",
                    seq_no=0,
                    event_data=[
                        {
                            "eventId": 1,
                            "timestamp": "2026-11-26T10:16:00Z",
                            "trigger": "Delta",
                            "actualValue": "true",
                            "component": {"name": "PowerContactor"},
                            "variable": {"name": "Tripped"},
                            "eventNotificationType": "HardWiredNotification",
                        }
                    ],
                ),
                suppress=False,
            )
            ended = await cp.call(
                call.TransactionEvent(
                    event_type="Ended",
                    timestamp="2026-11-26T10:30:00Z",
                    trigger_reason="StopAuthorized",
                    seq_no=2,
                    transaction_info={"transactionId": "py-tx-1", "stoppedReason": "Local"},
                    id_token=token,
                    meter_value=[
                        {
                            "timestamp": "2026-11-26T10:30:00Z",
                            "sampledValue": [{"value": 7.75, "context": "Transaction.End", "unitOfMeasure": {"unit": "kWh"}}],
                        }
                    ],
                ),
                suppress=False,
            )
            assert ended.id_token_info["status"] == "Accepted"
        finally:
            listener.cancel()


def only(items):
    assert len(items) == 1, items
    return items[0]


def test_v201_python_station_read_back_through_the_api(strom):
    assert strom.http("POST", "/api/v1/id-tokens", {"id_token": "PY201", "status": "Accepted"})[0] == 201
    asyncio.run(run_python_station(strom.ws_url("PY-CS-1")))

    station = strom.get("/api/v1/stations/PY-CS-1")
    assert station["ocpp_version"] == "2.0.1" and station["model"] == "PyModel201"
    assert station["connectors"] == [
        {**station["connectors"][0], "evse_id": 1, "connector_id": 1, "status": "Available"}
    ]
    transaction = only(strom.items("/api/v1/transactions?station_id=PY-CS-1"))
    assert transaction["station_transaction_id"] == "py-tx-1" and transaction["id_token"] == "PY201"
    assert transaction["evse_id"] == 1 and transaction["stop_reason"] == "Local"
    assert transaction["meter_start_wh"] == 3250 and transaction["meter_stop_wh"] == 7750
    assert transaction["energy_wh"] == 4500 and transaction["flags"] == []
    readings = strom.items(f"/api/v1/transactions/{transaction['id']}/meter-values")
    assert len(readings) == 4
    fault = only(strom.items("/api/v1/faults?station_id=PY-CS-1&open=true"))
    assert fault["error_code"] == "PowerContactor.Tripped" and fault["severity"] == "Error"


def run_ocpp_rpc_station(endpoint, identity, token, env=None):
    """Runs the ocpp-rpc station's session; answers what it was told (a dict)."""
    assert shutil_which("node"), "Node.js is needed for the ocpp-rpc interop test"
    modules = os.path.join(HERE, "node_modules", "ocpp-rpc")
    assert os.path.isdir(modules), "ocpp-rpc is not installed: run ./test (it runs npm ci in tests/interop)"
    result = subprocess.run(
        ["node", os.path.join(HERE, "ocpp_rpc_station.mjs"), endpoint, identity, token],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_v201_ocpp_rpc_strict_station_read_back_through_the_api(strom):
    assert strom.http("POST", "/api/v1/id-tokens", {"id_token": "RPC201", "status": "Accepted", "parent_id_token": "FLEET"})[0] == 201
    told = run_ocpp_rpc_station(f"ws://{strom.addr}/ocpp", "RPC-CS-1", "RPC201")
    assert told["protocol"] == "ocpp2.0.1"
    assert told["boot"]["status"] == "Accepted"
    assert told["authorize"]["idTokenInfo"]["status"] == "Accepted"
    assert told["authorize"]["idTokenInfo"]["groupIdToken"] == {"idToken": "FLEET", "type": "Central"}
    assert told["started"]["idTokenInfo"]["status"] == "Accepted"
    assert told["ended"]["idTokenInfo"]["status"] == "Accepted"
    assert told["heartbeat"]["currentTime"].endswith("Z")

    transaction = only(strom.items("/api/v1/transactions?station_id=RPC-CS-1"))
    assert transaction["energy_wh"] == 6000 and transaction["stop_reason"] == "Local"
    assert transaction["started_at"] == "2026-11-26T10:01:00.000Z"
    assert transaction["stopped_at"] == "2026-11-26T10:31:00.000Z"
    readings = strom.items(f"/api/v1/transactions/{transaction['id']}/meter-values")
    assert {r["measurand"] for r in readings} == {"Energy.Active.Import.Register", "Power.Active.Import", "Voltage"}
    fault = only(strom.items("/api/v1/faults?station_id=RPC-CS-1"))
    assert fault["error_code"] == "Connector.Problem" and fault["tech_info"] == "cable overheating"
    assert fault["evse_id"] == 1 and fault["open"] is True
