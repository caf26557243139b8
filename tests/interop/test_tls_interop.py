"""Interop over TLS with HTTP Basic auth (security profile 2): the PyPI `ocpp` stations (1.6 and
2.0.1, over `websockets` with an ssl context) and the npm `ocpp-rpc` station in strictMode run
their whole sessions against Ström's TLS listener, with a certificate openssl made for the test;
a wrong password and a plain connection are refused at the handshake."""

import asyncio
import base64

import pytest
import websockets

from test_v16_interop import run_station as run_v16_station
from test_v201_interop import run_ocpp_rpc_station, run_python_station

PASSWORD = "interop-tls-pass-0001"


def secure(strom, station):
    body = {"security_profile": 2, "basic_auth_password": PASSWORD}
    status, view = strom.http("PUT", f"/api/v1/stations/{station}", body)
    assert status == 200, view


def basic(station, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{station}:{password}".encode()).decode()}


def test_v16_python_station_over_tls_with_basic_auth(strom_tls):
    secure(strom_tls, "PY-CP-1")
    assert strom_tls.http("POST", "/api/v1/id-tokens", {"id_token": "PYTAG", "status": "Accepted"})[0] == 201
    url = strom_tls.wss_url("PY-CP-1")
    tx = asyncio.run(run_v16_station(url, ssl=strom_tls.ssl_context(), additional_headers=basic("PY-CP-1", PASSWORD)))
    assert strom_tls.get(f"/api/v1/transactions/{tx}")["energy_wh"] == 5_500
    assert strom_tls.get("/api/v1/stations/PY-CP-1")["security_profile"] == 2


def test_v201_python_station_over_tls_with_basic_auth(strom_tls):
    secure(strom_tls, "PY-CS-1")
    assert strom_tls.http("POST", "/api/v1/id-tokens", {"id_token": "PY201", "status": "Accepted"})[0] == 201
    url = strom_tls.wss_url("PY-CS-1")
    asyncio.run(run_python_station(url, ssl=strom_tls.ssl_context(), additional_headers=basic("PY-CS-1", PASSWORD)))
    (transaction,) = strom_tls.items("/api/v1/transactions?station_id=PY-CS-1")
    assert transaction["energy_wh"] == 4500


def test_v201_ocpp_rpc_station_over_tls_with_basic_auth(strom_tls):
    secure(strom_tls, "RPC-CS-1")
    assert strom_tls.http("POST", "/api/v1/id-tokens", {"id_token": "RPC201", "status": "Accepted"})[0] == 201
    endpoint = strom_tls.wss_url("RPC-CS-1").rsplit("/", 1)[0]
    told = run_ocpp_rpc_station(
        endpoint, "RPC-CS-1", "RPC201", env={"NODE_EXTRA_CA_CERTS": strom_tls.tls.ca, "OCPP_RPC_PASSWORD": PASSWORD}
    )
    assert told["boot"]["status"] == "Accepted" and told["ended"]["idTokenInfo"]["status"] == "Accepted"
    (transaction,) = strom_tls.items("/api/v1/transactions?station_id=RPC-CS-1")
    assert transaction["energy_wh"] == 6000


def test_wrong_password_and_plain_websocket_are_refused(strom_tls):
    secure(strom_tls, "PY-CP-2")

    async def connect(url, **options):
        async with websockets.connect(url, subprotocols=["ocpp1.6"], **options):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        asyncio.run(
            connect(
                strom_tls.wss_url("PY-CP-2"),
                ssl=strom_tls.ssl_context(),
                additional_headers=basic("PY-CP-2", "wrong-password-00001"),
            )
        )
    assert refused.value.response.status_code == 401
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        asyncio.run(connect(strom_tls.ws_url("PY-CP-2"), additional_headers=basic("PY-CP-2", PASSWORD)))
    assert refused.value.response.status_code == 401
