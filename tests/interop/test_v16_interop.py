"""Interop: a charge point written with the PyPI `ocpp==2.1.0` library (strict schema checks on
every answer Ström sends) runs boot, authorize, a whole transaction with meter values and a
fault, and the results are read back through Ström's API."""

import asyncio

import websockets
from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus


async def run_station(url, **connect):
    async with websockets.connect(url, subprotocols=["ocpp1.6"], **connect) as ws:
        assert ws.subprotocol == "ocpp1.6"
        cp = ChargePoint("PY-CP-1", ws)
        listener = asyncio.create_task(cp.start())
        try:
            boot = await cp.call(
                call.BootNotification(
                    charge_point_vendor="PyVendor", charge_point_model="PyModel", firmware_version="1.2.3"
                ),
                suppress=False,
            )
            assert boot.status == "Accepted"
            for connector in (0, 1):
                await cp.call(
                    call.StatusNotification(
                        connector_id=connector, error_code=ChargePointErrorCode.no_error, status=ChargePointStatus.available
                    ),
                    suppress=False,
                )
            hb = await cp.call(call.Heartbeat(), suppress=False)
            assert hb.current_time.endswith("Z")
            auth = await cp.call(call.Authorize(id_tag="PYTAG"), suppress=False)
            assert auth.id_tag_info["status"] == "Accepted"
            unknown = await cp.call(call.Authorize(id_tag="NOBODY"), suppress=False)
            assert unknown.id_tag_info["status"] == "Invalid"
            await cp.call(
                call.StatusNotification(
                    connector_id=1, error_code=ChargePointErrorCode.no_error, status=ChargePointStatus.preparing
                ),
                suppress=False,
            )
            start = await cp.call(
                call.StartTransaction(connector_id=1, id_tag="PYTAG", meter_start=10_000, timestamp="2026-11-26T10:00:00Z"),
                suppress=False,
            )
            assert start.id_tag_info["status"] == "Accepted"
            tx = start.transaction_id
            for minute, kwh in ((5, "12.5"), (10, "15.0")):
                await cp.call(
                    call.MeterValues(
                        connector_id=1,
                        transaction_id=tx,
                        meter_value=[
                            {
                                "timestamp": f"2026-11-26T10:{minute:02d}:00Z",
                                "sampledValue": [
                                    {"value": kwh, "unit": "kWh", "measurand": "Energy.Active.Import.Register"},
                                    {"value": "11.0", "unit": "kW", "measurand": "Power.Active.Import"},
                                    {"value": "16.0", "unit": "A", "measurand": "Current.Import", "phase": "L1"},
                                    {"value": "231.0", "unit": "V", "measurand": "Voltage", "phase": "L1-N"},
                                ],
                            }
                        ],
                    ),
                    suppress=False,
                )
            await cp.call(
                call.StatusNotification(
                    connector_id=1,
                    error_code=ChargePointErrorCode.high_temperature,
                    status=ChargePointStatus.faulted,
                    info="cable 92C",
                ),
                suppress=False,
            )
            await cp.call(
                call.StopTransaction(
                    transaction_id=tx, meter_stop=15_500, timestamp="2026-11-26T10:20:00Z", id_tag="PYTAG", reason="Other"
                ),
                suppress=False,
            )
            await cp.call(
                call.StatusNotification(
                    connector_id=1, error_code=ChargePointErrorCode.no_error, status=ChargePointStatus.available
                ),
                suppress=False,
            )
            data = await cp.call(call.DataTransfer(vendor_id="org.example", data="hello"), suppress=False)
            assert data.status == "UnknownVendorId"
            return tx
        finally:
            listener.cancel()


def test_v16_charge_point_session_read_back_through_the_api(strom):
    status, _ = strom.http("POST", "/api/v1/id-tokens", {"id_token": "PYTAG", "status": "Accepted"})
    assert status == 201
    tx = asyncio.run(run_station(strom.ws_url("PY-CP-1")))

    station = strom.get("/api/v1/stations/PY-CP-1")
    assert station["vendor"] == "PyVendor" and station["firmware_version"] == "1.2.3"
    assert station["registration_status"] == "Accepted"
    assert {c["connector_id"]: c["status"] for c in station["connectors"]} == {0: "Available", 1: "Available"}

    transaction = strom.get(f"/api/v1/transactions/{tx}")
    assert transaction["id_token"] == "PYTAG"
    assert transaction["meter_start_wh"] == 10_000 and transaction["meter_stop_wh"] == 15_500
    assert transaction["energy_wh"] == 5_500
    assert transaction["stop_reason"] == "Other" and transaction["active"] is False
    assert transaction["flags"] == []

    readings = strom.items(f"/api/v1/transactions/{tx}/meter-values")
    assert len(readings) == 8
    energy = [r["value"] for r in readings if r["measurand"] == "Energy.Active.Import.Register"]
    assert energy == [12_500, 15_000]
    assert {r["normalised_unit"] for r in readings if r["measurand"] == "Power.Active.Import"} == {"W"}

    faults = strom.items("/api/v1/faults?station_id=PY-CP-1")
    assert len(faults) == 1
    assert faults[0]["error_code"] == "HighTemperature" and faults[0]["info"] == "cable 92C"
    assert faults[0]["open"] is False and faults[0]["cleared_at"] is not None

    messages = strom.items("/api/v1/stations/PY-CP-1/messages?limit=1000")
    assert sum(1 for m in messages if m["direction"] == "in") == 14
