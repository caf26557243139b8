"""Interop with OCPP 2.0.1 stations, built on libraries we did not write, that behave as some
third-party firmware does: every TransactionEvent of a session carries seqNo 0, and after a
restart the station numbers its transactions from the beginning again, so two sessions share one
transactionId. Ström must apply every event (flagging the repeats) and keep both sessions:
nothing acknowledged is dropped (issue 23)."""

import asyncio
import json
import os
import subprocess

import websockets
from ocpp.v201 import ChargePoint, call

HERE = os.path.dirname(os.path.abspath(__file__))


def energy(wh, context, timestamp):
    return [{"timestamp": timestamp, "sampledValue": [{"value": wh, "context": context, "unitOfMeasure": {"unit": "Wh"}}]}]


async def quirky_session(cp, hour, start_wh, end_wh):
    token = {"idToken": "QUIRK", "type": "ISO14443"}
    at = lambda minute: f"2026-11-26T{hour:02d}:{minute:02d}:00Z"  # noqa: E731
    started = await cp.call(
        call.TransactionEvent(
            event_type="Started", timestamp=at(0), trigger_reason="Authorized", seq_no=0,
            transaction_info={"transactionId": "tx-1", "chargingState": "Charging"}, id_token=token,
            evse={"id": 1, "connectorId": 1}, meter_value=energy(start_wh, "Transaction.Begin", at(0)),
        ),
        suppress=False,
    )
    await cp.call(
        call.TransactionEvent(
            event_type="Updated", timestamp=at(10), trigger_reason="MeterValuePeriodic", seq_no=0,
            transaction_info={"transactionId": "tx-1"}, meter_value=energy((start_wh + end_wh) / 2, "Sample.Periodic", at(10)),
        ),
        suppress=False,
    )
    ended = await cp.call(
        call.TransactionEvent(
            event_type="Ended", timestamp=at(20), trigger_reason="StopAuthorized", seq_no=0,
            transaction_info={"transactionId": "tx-1", "stoppedReason": "Local"}, id_token=token,
            meter_value=energy(end_wh, "Transaction.End", at(20)),
        ),
        suppress=False,
    )
    assert started.id_token_info["status"] == "Accepted" and ended.id_token_info["status"] == "Accepted"


async def run_python_station(url):
    async with websockets.connect(url, subprotocols=["ocpp2.0.1"]) as ws:
        cp = ChargePoint("PY-QUIRK", ws)
        listener = asyncio.create_task(cp.start())
        try:
            station = {"vendorName": "Quirky", "model": "Q1"}
            boot = await cp.call(call.BootNotification(charging_station=station, reason="PowerUp"), suppress=False)
            assert boot.status == "Accepted"
            await quirky_session(cp, 10, 1000, 4000)
            reboot = await cp.call(call.BootNotification(charging_station=station, reason="ApplicationReset"), suppress=False)
            assert reboot.status == "Accepted"
            await quirky_session(cp, 12, 4000, 9000)
        finally:
            listener.cancel()


def assert_both_sessions_kept(strom, station):
    transactions = sorted(strom.items(f"/api/v1/transactions?station_id={station}"), key=lambda t: t["id"])
    assert len(transactions) == 2, transactions
    first, second = transactions
    assert all(t["station_transaction_id"] == "tx-1" and t["active"] is False for t in transactions), transactions
    assert first["energy_wh"] == 3000 and first["stop_reason"] == "Local"
    assert second["energy_wh"] == 5000 and second["started_at"] == "2026-11-26T12:00:00.000Z"
    assert "seq_no_repeated" in first["flags"] and "transaction_id_reused" not in first["flags"], first
    assert {"seq_no_repeated", "transaction_id_reused"} <= set(second["flags"]), second


def test_v201_python_station_repeating_seq_no_and_reusing_ids(strom):
    assert strom.http("POST", "/api/v1/id-tokens", {"id_token": "QUIRK", "status": "Accepted"})[0] == 201
    asyncio.run(run_python_station(strom.ws_url("PY-QUIRK")))
    assert_both_sessions_kept(strom, "PY-QUIRK")
    assert strom.get("/api/v1/stations/PY-QUIRK")["boot_reason"] == "ApplicationReset"


def test_v201_ocpp_rpc_strict_station_repeating_seq_no_and_reusing_ids(strom):
    modules = os.path.join(HERE, "node_modules", "ocpp-rpc")
    assert os.path.isdir(modules), "ocpp-rpc is not installed: run ./test (it runs npm ci in tests/interop)"
    assert strom.http("POST", "/api/v1/id-tokens", {"id_token": "QUIRK", "status": "Accepted"})[0] == 201
    result = subprocess.run(
        ["node", os.path.join(HERE, "ocpp_rpc_quirky_station.mjs"), f"ws://{strom.addr}/ocpp", "RPC-QUIRK", "QUIRK"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    told = json.loads(result.stdout.strip().splitlines()[-1])
    assert told["protocol"] == "ocpp2.0.1" and told["reboot"]["status"] == "Accepted"
    assert told["first"] == told["second"] == {"started": "Accepted", "ended": "Accepted"}
    assert_both_sessions_kept(strom, "RPC-QUIRK")
