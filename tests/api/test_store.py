"""The audit store against SQLite (WAL) and a real PostgreSQL server.

PostgreSQL comes from ``AUDIO_DETECT_TEST_POSTGRES_URL`` (``scripts/ci_services.sh``
starts one and exports it); each run works in its own schema, dropped afterwards.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from api_helpers import postgres_url
from sqlalchemy import event
from sqlalchemy.orm import Session

from audio_detect_service.security import create_key, verify_key
from audio_detect_service.store import Store
from audio_detect_service.store.store import DECISION_COLUMNS
from audio_detect_service.store.tables import utcnow

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


POSTGRES = pytest.param("postgresql", marks=pytest.mark.requires("postgresql"))


@pytest.fixture(params=["sqlite", POSTGRES])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'store.db'}")
        s.migrate()
        yield s
        s.close()
        return
    url = postgres_url()
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {url} is not reachable: {exc}")
    sep = "&" if "?" in url else "?"
    s = Store(f"{url}{sep}options=-csearch_path%3D{schema}")
    try:
        s.migrate()
        yield s
    finally:
        s.close()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def _record(**over):
    base = {
        "kind": "analyze", "request_id": "r1", "call_id": "c1", "api_key_id": None,
        "audio_sha256": "a" * 64, "duration": 3.0, "speech_seconds": 2.5, "codec": "flac",
        "container": "flac", "sample_rate": 16000, "channels": 1, "model_name": "m",
        "model_version": "1", "model_sha256": "b" * 64, "verdict": "spoof", "tier": "high",
        "p_spoof": 0.9, "llr": 3.2, "score": 1.0, "prior": 0.5,
        "thresholds": {"medium": 1.0, "high": 3.0},
        "timeline": [{"start": 0.0, "end": 2.0, "score": 1.0, "llr": 3.2, "p_spoof": 0.9}],
        "client": {"user_agent": "pytest", "metadata": {"agent": "ß"}}, "processing_ms": 12.5,
    }  # fmt: skip
    return base | over


def test_migrations_are_idempotent(store):
    assert store.migrate() == "0002"
    assert store.migrate() == "0002"
    assert store.ping()


def test_keys(store):
    key_id, key = create_key(store, name="ivr", scopes=["analyze", "read"], rate_limit=5)
    p = verify_key(store, key)
    assert p is not None and p.key_id == key_id and p.scopes == {"analyze", "read"}
    assert p.rate_limit_per_minute == 5
    assert [k.id for k in store.list_keys()] == [key_id]
    assert store.revoke_key(key_id) and verify_key(store, key) is None
    assert store.list_keys(include_revoked=False) == []
    assert store.list_keys()[0].revoked_at.tzinfo is not None


def test_decisions_roundtrip_query_and_purge(store):
    old = store.add_decision(_record(call_id="old"))
    with store.session() as s, s.begin():
        from audio_detect_service.store.tables import DecisionRecord

        s.get(DecisionRecord, old).created_at = utcnow() - timedelta(days=40)
    ids = [store.add_decision(_record(call_id="c1", request_id=f"r{i}")) for i in range(3)]
    other = store.add_decision(_record(call_id="c2", verdict="bonafide", llr=None, p_spoof=None))
    rec = store.get_decision(ids[0])
    assert rec["timeline"][0]["llr"] == 3.2 and rec["client"]["metadata"]["agent"] == "ß"
    assert rec["thresholds"] == {"medium": 1.0, "high": 3.0} and rec["created_at"].endswith(
        "+00:00"
    )
    assert [d["id"] for d in store.decisions_for_call("c1")] == ids
    since = utcnow() - timedelta(days=1)
    assert [d["id"] for d in store.list_decisions(since=since)] == [*ids, other]
    assert [d["id"] for d in store.list_decisions(verdict="bonafide")] == [other]
    assert len(list(store.iter_decisions(batch=2))) == 5
    counts = store.purge(older_than=utcnow() - timedelta(days=30))
    assert counts["decisions"] == 1 and store.get_decision(old) is None
    assert store.get_decision(ids[0]) is not None


def test_decision_stored_column_for_column(store):
    rec = _record(api_key_id="k1", started_at=utcnow() - timedelta(seconds=2))
    decision_id = store.add_decision(rec | {"not_a_column": 1})
    row = store.get_decision(decision_id)
    expected = rec | {"id": decision_id, "started_at": rec["started_at"].isoformat()}
    assert {k: row[k] for k in expected} == expected
    assert row["audio_stored"] is False and row["created_at"].endswith("+00:00")
    assert set(row) == set(DECISION_COLUMNS)


def test_key_check_and_decision_insert_open_no_orm_session(store):
    """The two store calls of every analysis run on Core (an ORM session costs 3x the CPU)."""
    key_id, key = create_key(store, name="ivr", scopes=["analyze"])
    sessions: list[object] = []
    listener = lambda session, transaction: sessions.append(session)  # noqa: E731
    event.listen(Session, "after_transaction_create", listener)
    try:
        assert verify_key(store, key).key_id == key_id
        assert verify_key(store, key + "x") is None
        decision_id = store.add_decision(_record(), audio=b"RIFF....")
    finally:
        event.remove(Session, "after_transaction_create", listener)
    assert sessions == []
    assert store.get_audio(decision_id).data == b"RIFF...."
    assert store.key_credentials(key_id).name == "ivr" and store.key_credentials("nope") is None
    store.revoke_key(key_id)
    assert store.key_credentials(key_id).revoked_at is not None


def test_audio_retention(store):
    kept = store.add_decision(_record(), audio=b"RIFF....", content_type="audio/wav",
                              retention=timedelta(days=7))  # fmt: skip
    expired = store.add_decision(_record(), audio=b"old", retention=timedelta(seconds=-1))
    assert store.get_audio(kept).data == b"RIFF...."
    assert store.get_audio(expired) is None
    assert store.purge_expired_audio() == 1
    assert store.get_decision(expired)["audio_stored"] is False
    assert store.get_decision(kept)["audio_stored"] is True


def test_jobs(store):
    store.add_job("j1", api_key_id=None, request_id="r", call_id="c", callback_url=None,
                  callback_status=None)  # fmt: skip
    assert store.get_job("j1")["status"] == "queued"
    store.update_job("j1", status="done", result={"llr": 1.5})
    job = store.get_job("j1")
    assert job["status"] == "done" and job["result"] == {"llr": 1.5}
    store.add_job("j2")
    assert store.fail_unfinished_jobs() == 1
    assert store.get_job("j2")["error"]["code"] == "interrupted"
    assert store.get_job("nope") is None


@pytest.mark.requires("postgresql")
def test_service_on_postgres(make_client, clips):
    """The whole service with PostgreSQL as its store."""
    url = postgres_url()
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    try:
        from api_helpers import auth, new_key

        sep = "&" if "?" in url else "?"
        client = make_client(database_url=f"{url}{sep}options=-csearch_path%3D{schema}")
        assert client.get("/readyz").json()["store"] == "postgresql"
        key = new_key(client, ["analyze", "read"])
        data = clips["bonafide_8k_hts1a"].read_bytes()
        body = client.post("/v1/analyze?call_id=pg-call", content=data, headers=auth(key)).json()
        call = client.get("/v1/calls/pg-call", headers=auth(key)).json()
        assert call["decisions"][0]["id"] == body["decision_id"]
        client.app.state.services.store.close()  # release connections before DROP SCHEMA
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
