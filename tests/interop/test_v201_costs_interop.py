"""The cost on a 2.0.1 station we did not write (PyPI `ocpp==2.1.0`, which checks every message
against the official schemas): while a priced session runs it receives CostUpdated, and the
Ended answer's totalCost is the charge detail record's total including tax."""

import asyncio

import websockets
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

from conftest import Strom

TARIFF = {"id": "AC", "currency": "EUR", "tax_rate": 19,
          "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]}]}


class CostStation(ChargePoint):
    def __init__(self, *args):
        super().__init__(*args)
        self.costs = []
        self.cost_arrived = asyncio.Event()

    @on("CostUpdated")
    def on_cost_updated(self, total_cost, transaction_id, **_):
        self.costs.append((transaction_id, total_cost))
        self.cost_arrived.set()
        return call_result.CostUpdated()


def reading(wh, context, at):
    return [{"timestamp": at, "sampledValue": [{"value": wh, "context": context, "measurand": "Energy.Active.Import.Register"}]}]


async def run_station(url):
    async with websockets.connect(url, subprotocols=["ocpp2.0.1"]) as ws:
        cp = CostStation("PY-COST", ws)
        listener = asyncio.create_task(cp.start())
        try:
            boot = await cp.call(call.BootNotification(
                charging_station={"vendorName": "PyVendor", "model": "PyCost"}, reason="PowerUp"), suppress=False)
            assert boot.status == "Accepted"
            token = {"idToken": "PYCOST", "type": "ISO14443"}
            await cp.call(call.TransactionEvent(
                event_type="Started", timestamp="2026-12-07T10:00:00Z", trigger_reason="Authorized", seq_no=0,
                transaction_info={"transactionId": "py-cost-1", "chargingState": "Charging"}, id_token=token,
                evse={"id": 1, "connectorId": 1}, meter_value=reading(0, "Transaction.Begin", "2026-12-07T10:00:00Z")),
                suppress=False)
            await cp.call(call.TransactionEvent(
                event_type="Updated", timestamp="2026-12-07T10:30:00Z", trigger_reason="MeterValuePeriodic", seq_no=1,
                transaction_info={"transactionId": "py-cost-1"},
                meter_value=reading(5000, "Sample.Periodic", "2026-12-07T10:30:00Z")), suppress=False)
            await asyncio.wait_for(cp.cost_arrived.wait(), timeout=10)
            ended = await cp.call(call.TransactionEvent(
                event_type="Ended", timestamp="2026-12-07T10:40:00Z", trigger_reason="EVCommunicationLost", seq_no=2,
                transaction_info={"transactionId": "py-cost-1", "stoppedReason": "EVDisconnected"},
                meter_value=reading(7000, "Transaction.End", "2026-12-07T10:40:00Z")), suppress=False)
            return cp.costs, ended.total_cost
        finally:
            listener.cancel()


def test_v201_python_station_receives_running_and_total_cost(tmp_path):
    strom = Strom(tmp_path, config="cost_update_secs = 1\n")
    try:
        assert strom.http("POST", "/api/v1/id-tokens", {"id_token": "PYCOST", "status": "Accepted"})[0] == 201
        assert strom.http("POST", "/api/v1/tariffs", TARIFF)[0] == 201
        costs, total = asyncio.run(run_station(strom.ws_url("PY-COST")))
        # 5 kWh × 0.30 = 1.50, with 19 % tax 1.785 → 1.79.
        assert costs[0] == ("py-cost-1", 1.79), costs
        record = strom.items("/api/v1/cdrs?station_id=PY-COST")
        assert len(record) == 1, record
        # 7 kWh × 0.30 = 2.10, with tax 2.499 → 2.50: the record's total, as the station was told.
        assert total == record[0]["total_cost"]["incl_vat"] == 2.5, (total, record[0]["total_cost"])
    finally:
        strom.stop()
