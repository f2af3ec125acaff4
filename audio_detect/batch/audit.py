"""Optional copy of batch rows into the API's audit store (``--audit-db URL``).

The Parquet shards are the record of a batch job; the audit store
(:class:`audio_detect_service.store.Store`, the ``api`` extra) lets analysts find the same
decisions in the API console. Each scored row becomes one decision of ``kind="batch"`` whose
``request_id`` is ``batch:<run id>``, ``call_id`` the file name without extension and
``client`` holds the full path and the worker. Rows with an error stay in Parquet only
(a decision needs a verdict).

When ``audio_detect_service.store`` cannot be imported, the store cannot be opened or
migrated, or it fails mid-job, the job goes on without it and says so in a warning: the audit copy
never aborts a batch job.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any, Protocol

__all__ = ["AuditSink", "AuditWriter", "StoreSink", "decision_from_row", "open_audit_sink"]

logger = logging.getLogger(__name__)

_STORE_MODULE = "audio_detect_service.store"
_CALL_ID_MAX = 128


class AuditSink(Protocol):
    """Where audit rows go."""

    def add_batch_records(self, records: Sequence[Mapping[str, Any]]) -> int:  # pragma: no cover
        """Store rows of :data:`audio_detect.batch.records.SCHEMA`; return how many were kept."""
        ...

    def close(self) -> None:  # pragma: no cover
        """Flush and release the connection."""
        ...


def decision_from_row(
    row: Mapping[str, Any], *, thresholds: Mapping[str, float], run_id: str
) -> dict[str, Any]:
    """The audit-store decision record of a scored batch row."""
    path = str(row["path"])
    return {
        "kind": "batch",
        "request_id": f"batch:{run_id}",
        "call_id": PurePath(path).stem[:_CALL_ID_MAX],
        "created_at": row["scored_at"],
        "audio_sha256": row["sha256"],
        "duration": row["duration"],
        "speech_seconds": row["speech_seconds"],
        "codec": row["codec"],
        "container": row["container"],
        "sample_rate": row["sample_rate"],
        "channels": row["channels"],
        "model_name": row["model_name"],
        "model_version": row["model_version"],
        "model_sha256": row["model_sha256"],
        "verdict": row["verdict"],
        "tier": row["tier"],
        "p_spoof": row["p_spoof"],
        "llr": row["llr"],
        "score": row["score"],
        "prior": row["prior"],
        "thresholds": dict(thresholds),
        "timeline": list(row["timeline"] or []),
        "client": {"source": "audio-detect batch", "path": path, "worker": row["worker"]},
        "processing_ms": row["processing_ms"],
    }


class StoreSink:
    """Writes scored rows to an ``audio_detect_service.store.Store`` (one decision per row)."""

    def __init__(self, store: Any, *, thresholds: Mapping[str, float], run_id: str) -> None:
        self.store = store
        self.thresholds = dict(thresholds)
        self.run_id = run_id

    def add_batch_records(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Insert the rows without an error; return how many."""
        n = 0
        for row in records:
            if row["error_code"] is None:
                rec = decision_from_row(row, thresholds=self.thresholds, run_id=self.run_id)
                self.store.add_decision(rec)
                n += 1
        return n

    def close(self) -> None:
        """Dispose of the store's connections."""
        self.store.close()


def open_audit_sink(url: str, *, thresholds: Mapping[str, float], run_id: str) -> AuditSink | None:
    """Open (and migrate) the audit store at ``url``; None with a warning when unavailable."""
    try:
        module = importlib.import_module(_STORE_MODULE)
    except ImportError as exc:
        logger.warning("audit store skipped: %s is not importable (%s)", _STORE_MODULE, exc)
        return None
    store_cls = getattr(module, "Store", None)
    if store_cls is None:
        logger.warning("audit store skipped: %s has no Store class", _STORE_MODULE)
        return None
    try:
        store = store_cls(url)
        store.migrate()
    except Exception as exc:  # bad URL, missing driver, unreachable server...
        logger.warning("audit store skipped: cannot open %s: %s", url, exc)
        return None
    return StoreSink(store, thresholds=thresholds, run_id=run_id)


class AuditWriter:
    """Forwards rows to an :class:`AuditSink`, dropping it on its first failure."""

    def __init__(self, sink: AuditSink | None) -> None:
        self.sink = sink
        self.rows = 0
        self.error: str | None = None

    def add(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Forward rows (no-op once the sink failed or when there is none)."""
        if self.sink is None or not records:
            return
        try:
            self.rows += self.sink.add_batch_records(records)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            logger.warning("audit store dropped after an error: %s", self.error)
            self.close()

    def close(self) -> None:
        """Close the sink (errors are logged, not raised)."""
        sink, self.sink = self.sink, None
        if sink is None:
            return
        try:
            sink.close()
        except Exception as exc:
            logger.warning("closing the audit store failed: %s", exc)
