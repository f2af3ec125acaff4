"""Crash safety: ``kill -9`` the server under load; no acknowledged decision may be lost.

Each round starts the service (a real ``uvicorn`` process on 127.0.0.1), runs client
threads posting ``/v1/analyze`` with a unique ``X-Request-ID`` each, ``kill -9``-s the
server once ``--kill-after`` decisions have been acknowledged (HTTP 200 with a
``decision_id``) while requests are still in flight, restarts it, and checks in the
audit store and through the API that

* every acknowledged decision is there, with its request id, and
* no request id was recorded twice.

Runs against SQLite (WAL) and, when ``AUDIO_DETECT_TEST_POSTGRES_URL`` is set (see
``scripts/ci_services.sh``), PostgreSQL. Loopback only, bounded rounds and requests.

Run::

    .venv/bin/python benchmarks/crash_safety.py                   # 5 rounds per store
    .venv/bin/python benchmarks/crash_safety.py --rounds 10 --kill-after 40 --clients 6

Writes ``benchmarks/results/crash_safety.json``. The suite runs one short round per
store (``tests/reliability/test_crash_safety.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "reliability"))

from local_server import LocalServer  # noqa: E402

CLIP = REPO / "tests" / "fixtures" / "audio" / "bonafide_8k_hts1a.flac"


def crash_round(
    server: LocalServer, *, clients: int = 4, kill_after: int = 20, audio: bytes | None = None,
    deadline_s: float = 300.0, restart: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """One round on a started ``server``: load, ``kill -9``, restart, verify.

    Returns
    -------
    dict
        ``acked``, ``missing`` (acknowledged but not in the store), ``duplicates``
        (request ids recorded more than once), ``unacked_recorded`` (committed but the
        answer was lost with the process: allowed), client-side ``errors`` by kind, and
        ``in_flight_at_kill``.
    """
    audio = audio if audio is not None else CLIP.read_bytes()
    prefix = f"crash-{uuid.uuid4().hex[:8]}"
    acked: dict[str, str] = {}
    sent: set[str] = set()
    errors: Counter[str] = Counter()
    in_flight = 0
    lock = threading.Lock()
    stop = threading.Event()
    url = server.url + "/v1/analyze"
    headers = {**server.auth(server.keys["analyze"]), "content-type": "application/octet-stream"}

    def worker(i: int) -> None:
        nonlocal in_flight
        with httpx.Client(timeout=60) as client:
            n = 0
            while not stop.is_set():
                rid = f"{prefix}-{i}-{n}"
                n += 1
                with lock:
                    sent.add(rid)
                    in_flight += 1
                try:
                    r = client.post(url, content=audio, headers={**headers, "X-Request-ID": rid})
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                    time.sleep(0.05)
                    continue
                finally:
                    with lock:
                        in_flight -= 1
                if r.status_code == 200:
                    with lock:
                        acked[rid] = r.json()["decision_id"]
                else:
                    errors[f"http_{r.status_code}"] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    t_end = time.monotonic() + deadline_s
    while len(acked) < kill_after and time.monotonic() < t_end:
        time.sleep(0.02)
    with lock:
        at_kill = in_flight
    server.kill()
    stop.set()
    for t in threads:
        t.join(90)
    acked_at_kill = dict(acked)
    if restart:
        server.start()
    return {**verify(server, prefix, acked_at_kill, api=restart), "in_flight_at_kill": at_kill,
            "sent": len(sent), "errors": dict(errors)}  # fmt: skip


def verify(
    server: LocalServer, prefix: str, acked: dict[str, str], *, api: bool = True
) -> dict[str, Any]:
    """Compare acknowledged decisions with the store (and the API after a restart)."""
    from sqlalchemy import func, select

    from audio_detect_service.store import Store
    from audio_detect_service.store.tables import DecisionRecord

    store = Store(server.database_url)
    try:
        with store.session() as s:
            rows = s.execute(
                select(DecisionRecord.request_id, func.count(), func.min(DecisionRecord.id))
                .where(DecisionRecord.request_id.like(f"{prefix}-%"))
                .group_by(DecisionRecord.request_id)
            ).all()
    finally:
        store.close()
    recorded = {rid: (count, did) for rid, count, did in rows}
    missing = sorted(rid for rid, did in acked.items() if recorded.get(rid, (0, None))[1] != did)
    duplicates = sorted(rid for rid, (count, _) in recorded.items() if count > 1)
    api_missing: list[str] = []
    if api:  # through the restarted server too
        with httpx.Client(base_url=server.url, headers=server.auth(server.keys["read"]),
                          timeout=30) as client:  # fmt: skip
            for rid, did in acked.items():
                if client.get(f"/v1/decisions/{did}").status_code != 200:
                    api_missing.append(rid)
    return {
        "acked": len(acked), "missing": missing, "api_missing": api_missing,
        "duplicates": duplicates, "recorded": len(recorded),
        "unacked_recorded": len(set(recorded) - set(acked)),
    }  # fmt: skip


def run_store(
    name: str, database_url: str | None, *, model: str, rounds: int, clients: int,
    kill_after: int, workdir: Path,
) -> dict[str, Any]:  # fmt: skip
    """Several kill/restart rounds on one store."""
    server = LocalServer(model, workdir / name, database_url=database_url,
                         settings={"max_queued_scoring": 4 * clients})  # fmt: skip
    server.start()
    results = []
    try:
        for i in range(rounds):
            t0 = time.monotonic()
            res = crash_round(server, clients=clients, kill_after=kill_after)
            res["seconds"] = round(time.monotonic() - t0, 1)
            results.append(res)
            print(f"{name} round {i + 1}: acked {res['acked']}, missing {len(res['missing'])}, "
                  f"duplicates {len(res['duplicates'])}, in flight at kill "
                  f"{res['in_flight_at_kill']}, committed-but-unacked {res['unacked_recorded']}",
                  flush=True)  # fmt: skip
    finally:
        server.stop()
    return {
        "store": name, "rounds": results,
        "acked_total": sum(r["acked"] for r in results),
        "missing_total": sum(len(r["missing"]) + len(r["api_missing"]) for r in results),
        "duplicates_total": sum(len(r["duplicates"]) for r in results),
        "restarts": server.starts - 1,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line: rounds per store, clients, acknowledgements before the kill."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--kill-after", type=int, default=20)
    ap.add_argument("--model", help="model directory or name (default: models/DEFAULT)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "crash_safety.json"))
    args = ap.parse_args(argv)
    if not args.model:
        from audio_detect.registry import default_model_name, models_root

        args.model = str(models_root() / default_model_name())
    stores: list[tuple[str, str | None]] = [("sqlite", None)]
    pg = os.environ.get("AUDIO_DETECT_TEST_POSTGRES_URL")
    if pg:
        stores.append(("postgresql", pg))
    else:
        print("AUDIO_DETECT_TEST_POSTGRES_URL not set: PostgreSQL skipped", flush=True)
    out: dict[str, Any] = {
        "command": "benchmarks/crash_safety.py " + " ".join(argv or sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_avg_at_start": os.getloadavg(),
        },
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "stores": [],
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="crash-") as tmp:
        for name, url in stores:
            out["stores"].append(run_store(
                name, url, model=args.model, rounds=args.rounds, clients=args.clients,
                kill_after=args.kill_after, workdir=Path(tmp)))  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    bad = sum(s["missing_total"] + s["duplicates_total"] for s in out["stores"])
    print(f"wrote {args.out}: {'OK' if bad == 0 else f'{bad} PROBLEMS'}")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
