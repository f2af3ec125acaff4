"""WebSocket calls run without permessage-deflate unless ``ws_compression`` is set."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_server_declines_deflate_that_the_client_offers(reliability_server):
    from websockets.sync.client import connect

    server = reliability_server
    url = server.url.replace("http", "ws") + f"/v1/stream?api_key={server.keys['both']}"
    with connect(url, open_timeout=10, compression="deflate") as ws:  # the client offers it
        offered = ws.request.headers.get("Sec-WebSocket-Extensions", "")
        assert "permessage-deflate" in offered
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        ws.send(json.dumps({"type": "start", "encoding": "mulaw", "sample_rate": 8000}))
        assert json.loads(ws.recv(timeout=10))["type"] == "started"
        ws.send(json.dumps({"type": "stop"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "final"
