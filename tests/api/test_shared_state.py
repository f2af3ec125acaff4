"""Several workers, one Redis: per-key rate limits and async jobs shared (issue #15).

Against a real Redis: ``$AUDIO_DETECT_TEST_REDIS_URL`` when set (scripts/ci_services.sh
exports it), else a private ``redis-server`` started here on a Unix socket. Without a
Redis server (Debian package ``redis-server``) these tests skip, saying so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import auth, new_key

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    redis = pytest.importorskip("redis", reason="the redis client (api extra) is not installed")
    url = os.environ.get("AUDIO_DETECT_TEST_REDIS_URL")
    proc = None
    if not url:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed (Debian package redis-server)")
        sock = tmp_path_factory.mktemp("redis") / "redis.sock"
        proc = subprocess.Popen(
            [exe, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"unix://{sock}"
        for _ in range(100):
            if sock.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
    try:
        redis.from_url(url).ping()
    except Exception as exc:
        if proc is not None:
            proc.kill()
        pytest.skip(f"Redis cannot start or be reached at {url}: {exc!r}")
    try:
        yield url
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


def _db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'shared.db'}"


def test_rate_limit_holds_across_workers(make_client, redis_url, tmp_path):
    """Two app instances ("workers") on one Redis: a key gets its limit, not twice it."""
    common = {"redis_url": redis_url, "database_url": _db_url(tmp_path),
              "redis_prefix": f"test-{uuid.uuid4().hex}:"}  # fmt: skip
    a, b = make_client(**common), make_client(**common)
    key = new_key(a, ["analyze", "read"], rate_limit=6)  # 6 per minute, bucket of 6
    codes = [(a if i % 2 == 0 else b).get("/v1/models", headers=auth(key)).status_code
             for i in range(20)]  # fmt: skip
    assert codes.count(200) == 6 and codes.count(429) == 14, codes
    assert {codes[i] for i in range(0, 20, 2)} == {200, 429}  # both workers refused some
    assert {codes[i] for i in range(1, 20, 2)} == {200, 429}


def test_without_redis_each_worker_has_its_own_limit(make_client, tmp_path):
    common = {"database_url": _db_url(tmp_path)}
    a, b = make_client(**common), make_client(**common)
    key = new_key(a, ["analyze", "read"], rate_limit=6)
    codes = [(a if i % 2 == 0 else b).get("/v1/models", headers=auth(key)).status_code
             for i in range(20)]  # fmt: skip
    assert codes.count(200) == 12  # the single-process default: per process


def test_async_job_submitted_to_one_worker_is_readable_from_the_other(
    make_client, redis_url, tmp_path, clips
):
    common = {"redis_url": redis_url, "database_url": _db_url(tmp_path),
              "redis_prefix": f"test-{uuid.uuid4().hex}:"}  # fmt: skip
    a, b = make_client(**common), make_client(**common)
    key = new_key(a, ["analyze", "read"])
    data = clips["bonafide_8k_hts1a"].read_bytes()
    r = a.post("/v1/analyze?async=true", content=data,
               headers={**auth(key), "Content-Type": "audio/flac"})  # fmt: skip
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    deadline = time.monotonic() + 60
    while True:
        job = b.get(f"/v1/jobs/{job_id}", headers=auth(key))
        assert job.status_code == 200, job.text
        if job.json()["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    body = job.json()
    assert body["status"] == "done", body
    assert body["result"]["verdict"] in ("bonafide", "spoof")
    # the decision is in the shared audit trail, readable from either worker
    decision_id = body["result"]["decision_id"]
    assert a.get(f"/v1/decisions/{decision_id}", headers=auth(key)).status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_workers_2_share_limits_and_jobs(redis_url, tiny_gmm_dir, tmp_path, clips):
    """The real thing: `audio-detect serve --workers 2` (two processes, one port)."""
    port = _free_port()
    env = {
        **os.environ,
        "AUDIO_DETECT_RATE_LIMIT_PER_MINUTE": "10",
        "AUDIO_DETECT_MODELS_DIR": str(tiny_gmm_dir.parent),
        "AUDIO_DETECT_REDIS_PREFIX": f"test-{uuid.uuid4().hex}:",
    }
    cmd = [
        sys.executable, "-m", "audio_detect", "serve", "--dev", "--workers", "2",
        "--port", str(port), "--model", str(tiny_gmm_dir), "--redis-url", redis_url,
        "--database-url", _db_url(tmp_path), "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 120
        while len(pids) < 2 and time.monotonic() < deadline:  # both workers up and serving
            try:
                with httpx.Client(base_url=base, timeout=5) as c:  # a new connection each time
                    r = c.get("/healthz")
                    if r.status_code == 200 and c.get("/readyz").status_code == 200:
                        pids.add(r.json()["pid"])
            except httpx.TransportError:
                time.sleep(0.2)
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        assert len(pids) == 2, f"only saw workers {pids}"
        codes = []
        for _ in range(30):  # new connection per request: the kernel spreads them
            with httpx.Client(base_url=base, timeout=10) as c:
                codes.append(c.get("/v1/models").status_code)
        assert codes.count(200) in (10, 11) and codes.count(429) == 30 - codes.count(200), codes
        data = clips["bonafide_8k_hts1a"].read_bytes()
        time.sleep(6.5)  # one token back (10 per minute)
        with httpx.Client(base_url=base, timeout=30) as c:
            r = c.post("/v1/analyze?async=true", content=data,
                       headers={"Content-Type": "audio/flac",
                                "X-Request-ID": uuid.uuid4().hex})  # fmt: skip
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        time.sleep(3.0)  # reading the job costs tokens too
        status = None
        for _ in range(20):
            with httpx.Client(base_url=base, timeout=10) as c:
                j = c.get(f"/v1/jobs/{job_id}")
            if j.status_code == 429:
                time.sleep(6.5)
                continue
            assert j.status_code == 200, j.text
            status = j.json()["status"]
            if status == "done":
                break
            time.sleep(1.0)
        assert status == "done"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _dead_worker_job(client, redis_url: str, prefix: str, data: bytes, *, attempts: int) -> str:
    """In ``client``'s loop: a worker takes a queued job and dies (its lease lapses)."""
    import asyncio

    import redis

    from audio_detect_service.redis_jobs import RedisJobRunner
    from audio_detect_service.schemas import AnalyzeParams
    from audio_detect_service.security import Principal

    services = client.app.state.services

    async def take_and_die() -> str:
        dead = RedisJobRunner(services, redis_url, consumers=1, prefix=prefix, lease_seconds=0.3)
        await dead._renew_lease()  # registered and alive, as start() leaves a worker
        item = services.prepare(data, "audio/flac", AnalyzeParams(), {"host": "test"})
        principal = Principal(key_id=None, name="dev", scopes=frozenset({"analyze", "read"}))
        job_id = await dead.submit(item, principal=principal, request_id="req-dead")
        # what its consumer does on taking the job, then the process is killed
        await dead._redis.blmove(dead._queue, dead._processing, 1, "LEFT", "RIGHT")
        await dead._redis.hset(dead._input + job_id, "attempts", attempts)
        services.store.update_job(job_id, status="running")
        await dead._redis.aclose()
        await asyncio.sleep(0.5)  # the lease expires
        return job_id

    job_id = client.portal.call(take_and_die)
    r = redis.from_url(redis_url)
    assert r.llen(prefix + "jobs:queue") == 0 and r.scard(prefix + "jobs:workers") == 1
    return job_id


def _run_live_worker(client, redis_url: str, prefix: str, job_id: str) -> dict:
    """Start a second worker on the same queue; return the job row once it is finished."""
    import asyncio

    from audio_detect_service.redis_jobs import RedisJobRunner

    services = client.app.state.services

    async def serve_until_finished() -> dict:
        live = RedisJobRunner(services, redis_url, consumers=1, prefix=prefix)
        await live.start()  # reaps the dead worker first
        try:
            for _ in range(600):
                row = services.store.get_job(job_id)
                if row["status"] in ("done", "failed"):
                    return row
                await asyncio.sleep(0.1)
            raise AssertionError(f"job still {row['status']}")
        finally:
            await live.shutdown()

    return client.portal.call(serve_until_finished)


def test_job_of_a_dead_worker_is_requeued_and_run_by_another(
    make_client, redis_url, tmp_path, clips
):
    """A worker killed mid-job (lease lapsed) does not leave the job ``running`` forever."""
    import redis

    prefix = f"test-{uuid.uuid4().hex}:"
    a = make_client(database_url=_db_url(tmp_path))  # in-process jobs: no consumer of ours
    data = clips["bonafide_8k_hts1a"].read_bytes()
    job_id = _dead_worker_job(a, redis_url, prefix, data, attempts=1)
    assert a.app.state.services.store.get_job(job_id)["status"] == "running"
    row = _run_live_worker(a, redis_url, prefix, job_id)
    assert row["status"] == "done", row
    assert row["result"]["verdict"] in ("bonafide", "spoof")
    r = redis.from_url(redis_url)
    assert r.keys(prefix + "jobs:processing:*") == []  # nothing left taken
    assert r.keys(prefix + "jobs:input:*") == []  # nor any input
    assert r.scard(prefix + "jobs:workers") == 0  # the dead worker was deregistered


def test_job_interrupted_too_often_fails_with_a_reason(make_client, redis_url, tmp_path, clips):
    prefix = f"test-{uuid.uuid4().hex}:"
    a = make_client(database_url=_db_url(tmp_path))
    data = clips["bonafide_8k_hts1a"].read_bytes()
    job_id = _dead_worker_job(a, redis_url, prefix, data, attempts=2)  # max_attempts is 2
    row = _run_live_worker(a, redis_url, prefix, job_id)
    assert row["status"] == "failed"
    assert row["error"]["code"] == "interrupted" and row["error"]["request_id"] == "req-dead"
    assert row["result"] is None
