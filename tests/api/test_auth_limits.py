"""API keys (hashing, scopes, revocation), dev mode, rate limits, load shedding, time limits."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest
from api_helpers import LOCAL, auth, new_key

from audio_detect_service.limits import ScoringPool
from audio_detect_service.security import TokenBuckets, create_key, parse_key, verify_key

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_health_needs_no_key(app_client):
    assert app_client.get("/healthz").json() == {"status": "ok", "pid": os.getpid()}
    ready = app_client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["model"]["name"] == "tiny-gmm"


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/v1/analyze"), ("get", "/v1/models"), ("get", "/v1/models/tiny-gmm"),
     ("get", "/v1/jobs/abc"), ("get", "/v1/calls/abc"), ("get", "/v1/decisions"),
     ("get", "/v1/decisions/abc"), ("get", "/metrics")],
)  # fmt: skip
def test_keys_required(app_client, method, path):
    r = getattr(app_client, method)(path)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    r = getattr(app_client, method)(path, headers=auth("adk_0123456789ab_wrong"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_key_is_stored_hashed_and_checked(app_client, clips):
    store = app_client.app.state.services.store
    key_id, key = create_key(store, name="ivr", scopes=["analyze"])
    assert parse_key(key) == key_id
    row = store.get_key(key_id)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest() and key not in row.key_hash
    assert verify_key(store, key).scopes == {"analyze"}
    assert verify_key(store, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert verify_key(store, "not-a-key") is None
    data = clips["bonafide_8k_hts1a"].read_bytes()
    assert (
        app_client.post("/v1/analyze", content=data, headers={"X-API-Key": key}).status_code == 200
    )
    assert store.revoke_key(key_id) and not store.revoke_key(key_id)
    r = app_client.post("/v1/analyze", content=data, headers=auth(key))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_scopes(app_client):
    read_only = new_key(app_client, ["read"])
    analyze_only = new_key(app_client, ["analyze"])
    r = app_client.post("/v1/analyze", content=b"x", headers=auth(read_only))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = app_client.get("/v1/decisions", headers=auth(analyze_only))
    assert r.status_code == 403
    assert app_client.get("/v1/decisions", headers=auth(read_only)).status_code == 200
    assert app_client.get("/metrics", headers=auth(analyze_only)).status_code == 403
    assert app_client.get("/v1/models", headers=auth(analyze_only)).status_code == 200
    with pytest.raises(ValueError):
        create_key(app_client.app.state.services.store, name="x", scopes=["admin"])


def test_rate_limit_per_key(app_client):
    key = new_key(app_client, ["read"], rate_limit=3)
    other = new_key(app_client, ["read"], rate_limit=3)
    codes = [app_client.get("/v1/decisions", headers=auth(key)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = app_client.get("/v1/decisions", headers=auth(key))
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    assert app_client.get("/v1/decisions", headers=auth(other)).status_code == 200


def test_token_bucket_refills():
    buckets = TokenBuckets(default_per_minute=600, burst=2)
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    wait = buckets.take("a")
    assert 0 < wait <= 0.11
    time.sleep(wait + 0.02)
    assert buckets.take("a") == 0


def test_dev_mode_is_local_only(make_client, clips):
    local = make_client(dev_mode=True)
    data = clips["bonafide_8k_hts1a"].read_bytes()
    r = local.post("/v1/analyze", content=data)
    assert r.status_code == 200, r.text
    assert local.get("/v1/decisions").status_code == 200
    remote = make_client(client=("10.1.2.3", 4000), dev_mode=True)
    r = remote.post("/v1/analyze", content=data)
    assert r.status_code == 403 and r.json()["error"]["code"] == "dev_mode_local_only"


def test_metrics_public_setting(make_client):
    client = make_client(metrics_public=True)
    assert client.get("/metrics").status_code == 200


def _blocking(client, gate: threading.Event, started: threading.Event):
    services = client.app.state.services
    original = services.score

    def slow(item):
        started.set()
        gate.wait(10)
        return original(item)

    services.score = slow  # instance attribute shadows the method
    return services


def test_saturation_sheds_with_503(make_client, clips):
    client = make_client(max_concurrent_scoring=1, max_queued_scoring=0)
    key = new_key(client, ["analyze"])
    gate, started = threading.Event(), threading.Event()
    _blocking(client, gate, started)
    data = clips["bonafide_8k_hts1a"].read_bytes()
    results = []
    t = threading.Thread(
        target=lambda: results.append(client.post("/v1/analyze", content=data, headers=auth(key)))
    )
    t.start()
    assert started.wait(10)
    r = client.post("/v1/analyze", content=data, headers=auth(key))
    assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded"
    assert int(r.headers["retry-after"]) >= 1
    gate.set()
    t.join(20)
    assert results[0].status_code == 200
    metrics = client.get("/metrics", headers=auth(new_key(client, ["read"]))).text
    assert 'route="/v1/analyze",status="503"' in metrics


def test_request_time_limit(make_client, clips):
    client = make_client(request_timeout_seconds=0.3)
    key = new_key(client, ["analyze"])
    gate, started = threading.Event(), threading.Event()
    _blocking(client, gate, started)
    r = client.post("/v1/analyze", content=clips["bonafide_8k_hts1a"].read_bytes(),
                    headers=auth(key))  # fmt: skip
    gate.set()
    assert r.status_code == 503 and r.json()["error"]["code"] == "timeout"


def test_scoring_pool_bounds():
    import asyncio

    asyncio.run(_pool_bounds())


async def _pool_bounds():
    import asyncio

    pool = ScoringPool(workers=1, max_queued=1)
    gate = threading.Event()

    first = asyncio.ensure_future(pool.run(gate.wait, 5, timeout=5))
    second = asyncio.ensure_future(pool.run(lambda: 42, timeout=5))
    await asyncio.sleep(0.05)
    assert pool.inflight == 2
    with pytest.raises(Exception) as exc:
        await pool.run(lambda: 1, timeout=5)
    assert getattr(exc.value, "code", "") == "overloaded"
    gate.set()
    assert await first is True and await second == 42
    await asyncio.sleep(0.01)
    assert pool.inflight == 0
    pool.shutdown()


def test_local_constant():
    assert LOCAL[0] == "127.0.0.1"
