"""Interop for commands: a charge point built with the PyPI `ocpp==2.1.0` library, with
handlers for RemoteStartTransaction, Reset and GetConfiguration, is commanded through Ström's
API; the library checks every CALL Ström sends against the official schema, and the effects
show up in the API."""

import asyncio
import datetime
import json
import urllib.request

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action


class Station(ChargePoint):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.remote_starts = asyncio.Queue()
        self.resets = []

    @on(Action.get_configuration)
    def on_get_configuration(self, key=None, **kwargs):
        known = {"HeartbeatInterval": "300", "NumberOfConnectors": "1"}
        wanted = key or list(known)
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": k == "NumberOfConnectors", "value": known[k]} for k in wanted if k in known],
            unknown_key=[k for k in wanted if k not in known],
        )

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, connector_id=None, **kwargs):
        self.remote_starts.put_nowait((id_tag, connector_id))
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.reset)
    def on_reset(self, type, **kwargs):
        self.resets.append(type)
        return call_result.Reset(status="Accepted")


def post(addr, path, body):
    request = urllib.request.Request(
        f"http://{addr}{path}", data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.status, json.loads(response.read().decode())


async def scenario(strom):
    async with websockets.connect(strom.ws_url("PY-CMD-1"), subprotocols=["ocpp1.6"]) as ws:
        cp = Station("PY-CMD-1", ws)
        listener = asyncio.create_task(cp.start())
        try:
            boot = await cp.call(call.BootNotification(charge_point_vendor="Py", charge_point_model="Cmd"), suppress=False)
            assert boot.status == "Accepted"
            loop = asyncio.get_running_loop()

            status, config = await loop.run_in_executor(
                None, post, strom.addr, "/api/v1/stations/PY-CMD-1/commands/GetConfiguration", {"key": ["HeartbeatInterval", "Colour"]}
            )
            assert status == 200
            assert config == {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}], "unknownKey": ["Colour"]}

            status, answer = await loop.run_in_executor(
                None, post, strom.addr, "/api/v1/stations/PY-CMD-1/commands/RemoteStartTransaction", {"idTag": "PYREMOTE", "connectorId": 1}
            )
            assert (status, answer) == (200, {"status": "Accepted"})
            id_tag, connector = await asyncio.wait_for(cp.remote_starts.get(), 10)
            assert (id_tag, connector) == ("PYREMOTE", 1)
            # The station starts the session the operator asked for, as it would after a remote start.
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            started = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=100, timestamp=now), suppress=False)
            assert started.id_tag_info["status"] == "Accepted"

            status, answer = await loop.run_in_executor(
                None, post, strom.addr, "/api/v1/stations/PY-CMD-1/commands/Reset", {"type": "Soft"}
            )
            assert (status, answer) == (200, {"status": "Accepted"})
            assert cp.resets == ["Soft"]
            return started.transaction_id
        finally:
            listener.cancel()


def test_v16_charge_point_is_commanded_through_the_api(strom):
    assert strom.http("POST", "/api/v1/id-tokens", {"id_token": "PYREMOTE", "status": "Accepted"})[0] == 201
    tx = asyncio.run(scenario(strom))
    transaction = strom.get(f"/api/v1/transactions/{tx}")
    assert transaction["id_token"] == "PYREMOTE" and transaction["active"] is True
    commands = strom.items("/api/v1/stations/PY-CMD-1/commands")
    assert [c["action"] for c in commands] == ["Reset", "RemoteStartTransaction", "GetConfiguration"]
    assert all(c["status"] == "Answered" for c in commands)
    config = strom.get("/api/v1/stations/PY-CMD-1/configuration")
    assert config == [{**config[0], "key": "HeartbeatInterval", "value": "300", "readonly": False}]
