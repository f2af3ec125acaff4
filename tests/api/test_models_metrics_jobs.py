"""/v1/models, /metrics, async jobs with a callback to a local receiver, /v1/decisions."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from api_helpers import auth, new_key

from audio_detect_service.webhooks import sign

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_models(app_client, analyze_key):
    h = auth(analyze_key)
    models = app_client.get("/v1/models", headers=h).json()
    tiny = next(m for m in models if m["name"] == "tiny-gmm")
    assert tiny["loaded"] is True and tiny["format"] == "gmm" and tiny["sample_rate"] == 8000
    detail = app_client.get("/v1/models/tiny-gmm", headers=h).json()
    assert detail["manifest"]["thresholds"] == {"medium": 1.0, "high": 3.0}
    assert detail["sha256"] == app_client.app.state.services.detector.model.sha256
    r = app_client.get("/v1/models/nope", headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


def test_metrics_after_traffic(app_client, full_key, clips):
    h = auth(full_key)
    data = clips["spoof_hn-nsf_slt_arctic_b0474"].read_bytes()
    verdict = app_client.post("/v1/analyze", content=data, headers=h).json()
    app_client.post("/v1/analyze", content=b"junk" * 50, headers=h)
    text = app_client.get("/metrics", headers=h).text
    assert (
        'audio_detect_http_requests_total{method="POST",route="/v1/analyze",status="200"} 1.0'
        in text
    )
    assert 'route="/v1/analyze",status="422"' in text
    assert 'audio_detect_http_request_duration_seconds_bucket{le="0.5",method="POST"' in text
    assert 'audio_detect_audio_seconds_scored_total{source="analyze"} 2.765' in text
    assert (
        f'audio_detect_verdicts_total{{source="analyze",tier="{verdict["tier"]}",'
        f'verdict="{verdict["verdict"]}"}} 1.0'
    ) in text
    assert 'audio_detect_model_info{format="gmm",name="tiny-gmm"' in text


def _wait_job(client, job_id, key, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=auth(key)).json()
        if job["status"] in ("done", "failed") and job["callback_status"] != "pending":
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_async_job_with_signed_callback(make_client, receiver, clips):
    client = make_client(webhook_secret="s3cret", callback_allowed_hosts="127.0.0.1")
    key = new_key(client, ["analyze"])
    data = clips["spoof_wavefake_lj001-0001_gen"].read_bytes()
    r = client.post(
        f"/v1/analyze?call_id=job-1&callback_url={receiver.url}/hook",
        content=data, headers=auth(key) | {"Prefer": "respond-async"},
    )  # fmt: skip
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "queued" and r.headers["location"] == body["href"]
    assert r.headers["preference-applied"] == "respond-async"
    job = _wait_job(client, body["job_id"], key)
    assert job["status"] == "done" and job["callback_status"] == "delivered"
    result = job["result"]
    sync = client.post("/v1/analyze", content=data, headers=auth(key)).json()
    assert result["llr"] == pytest.approx(sync["llr"]) and result["call_id"] == "job-1"
    (hit,) = receiver.wait(1)
    assert hit["path"] == "/hook" and hit["json"]["job_id"] == body["job_id"]
    assert hit["json"]["result"]["decision_id"] == result["decision_id"]
    ts = hit["headers"]["X-Audio-Detect-Timestamp"]
    assert hit["headers"]["X-Audio-Detect-Signature"] == sign("s3cret", ts, hit["raw"])
    expected = hmac.new(b"s3cret", ts.encode() + b"." + hit["raw"], hashlib.sha256).hexdigest()
    assert hit["headers"]["X-Audio-Detect-Signature"] == f"sha256={expected}"
    other = new_key(client, ["analyze"])
    assert client.get(f"/v1/jobs/{body['job_id']}", headers=auth(other)).status_code == 404


def test_async_job_failure_and_callback_retry(make_client, clips):
    from api_helpers import Receiver

    flaky = Receiver(fail_first=1)
    try:
        client = make_client()
        key = new_key(client, ["analyze"])
        r = client.post(
            f"/v1/analyze?async=true&callback_url={flaky.url}/cb", content=b"not audio" * 30,
            headers=auth(key),
        )  # fmt: skip
        assert r.status_code == 202
        job = _wait_job(client, r.json()["job_id"], key)
        assert job["status"] == "failed" and job["error"]["code"] == "not_audio"
        assert job["callback_status"] == "delivered"
        assert flaky.wait(1)[0]["json"]["status"] == "failed"
    finally:
        flaky.close()


def test_callback_url_checks(make_client, clips):
    client = make_client(callback_allowed_hosts="hooks.example.com")
    key = new_key(client, ["analyze"])
    data = clips["bonafide_8k_hts1a"].read_bytes()
    r = client.post("/v1/analyze?async=true&callback_url=http://127.0.0.1:9/x", content=data,
                    headers=auth(key))  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_parameter"
    r = client.post("/v1/analyze?async=true&callback_url=ftp://x", content=data, headers=auth(key))
    assert r.status_code == 422


def test_jobs_limit(make_client, clips):
    client = make_client(max_jobs=1)
    key = new_key(client, ["analyze"])
    services = client.app.state.services
    import threading

    gate = threading.Event()
    original = services.score
    services.score = lambda item: (gate.wait(10), original(item))[1]
    data = clips["bonafide_8k_hts1a"].read_bytes()
    h = auth(key) | {"Prefer": "respond-async"}
    first = client.post("/v1/analyze", content=data, headers=h)
    second = client.post("/v1/analyze", content=data, headers=h)
    gate.set()
    assert first.status_code == 202
    assert second.status_code == 503 and second.json()["error"]["code"] == "overloaded"
    assert _wait_job(client, first.json()["job_id"], key)["status"] == "done"


def test_decisions_paging_and_calls(app_client, full_key, clips):
    h = auth(full_key)
    data = clips["bonafide_8k_hts1a"].read_bytes()
    ids = [
        app_client.post(f"/v1/analyze?call_id=pg-{i % 2}", content=data, headers=h).json()[
            "decision_id"
        ]
        for i in range(5)
    ]
    seen, cursor = [], None
    while True:
        q = "/v1/decisions?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = app_client.get(q, headers=h).json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    since = app_client.get("/v1/decisions?since=2000-01-01T00:00:00Z", headers=h).json()
    assert len(since["items"]) == 5
    assert app_client.get("/v1/decisions?since=2999-01-01", headers=h).json()["items"] == []
    bad = app_client.get("/v1/decisions?since=yesterday", headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    bad = app_client.get("/v1/decisions?cursor=%%%", headers=h)
    assert bad.status_code == 422
    call = app_client.get("/v1/calls/pg-0", headers=h).json()
    assert call["status"] == "completed" and len(call["decisions"]) == 3
    r = app_client.get("/v1/calls/unknown", headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "call_not_found"
    r = app_client.get("/v1/decisions/unknown", headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "decision_not_found"
