"""The output of a batch job: one row per file, written as Parquet shards.

Row schema (:data:`SCHEMA`)
---------------------------
``path``
    Absolute path of the recording, as listed by the input.
``sha256``, ``size_bytes``
    Hash and size of the bytes that were decoded (null when the file could not be read).
``duration``, ``speech_seconds``
    Seconds of audio and of detected speech.
``verdict``, ``tier``, ``p_spoof``, ``llr``, ``score``, ``prior``, ``n_windows``
    The :class:`~audio_detect.detector.Decision`; ``p_spoof``/``llr``/``score`` are null
    for ``not_enough_speech``; ``p_spoof`` is the posterior for ``prior``.
``timeline``
    ``list<struct<start, end, llr, p_spoof>>``: the per-window scores.
``sample_rate``, ``channels``, ``codec``, ``container``
    What the file held (source sample rate, before resampling).
``model_name``, ``model_version``, ``model_sha256``
    The model that scored (or tried to score) the file.
``error_code``, ``error_message``
    Null on success; otherwise the :class:`~audio_detect.exceptions.AudioDetectError`
    code (or ``file_not_found``, ``io_error``, ``internal_error``) and its message.
``processing_ms``, ``cpu_ms``, ``worker``, ``scored_at``
    Wall and CPU time spent on the file (read, hash, decode, score; CPU time of the
    worker process, which runs one thread), ``host:pid`` of the worker and the UTC time
    the row was produced.

Shards
------
A job writes ``part-<run id>-<n>.parquet`` files into its output folder. Each shard is
written to a hidden temporary file in the same folder, flushed to disk and renamed into
place, so a killed job leaves only complete shards (and perhaps a ``.*.tmp`` file that
the next run deletes). A rerun reads the ``path``/``sha256``/``error_code`` columns of
every shard (:func:`load_done_index`) to skip the files already scored.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..detector import Decision
from ..exceptions import ParameterError

__all__ = [
    "RETRY_CODES",
    "SCHEMA",
    "SHARD_GLOB",
    "TIMELINE_TYPE",
    "ShardWriter",
    "decision_record",
    "error_record",
    "list_shards",
    "load_done_index",
    "new_run_id",
    "read_results",
    "records_to_table",
    "remove_stale_temp_files",
    "write_table_atomic",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
SHARD_GLOB = "part-*.parquet"
#: Error codes a rerun tries again (the file may be readable next time).
RETRY_CODES = frozenset({"file_not_found", "io_error", "internal_error"})

TIMELINE_TYPE = pa.list_(
    pa.struct(
        [
            ("start", pa.float64()),
            ("end", pa.float64()),
            ("llr", pa.float64()),
            ("p_spoof", pa.float64()),
        ]
    )
)

SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        ("sha256", pa.string()),
        ("size_bytes", pa.int64()),
        ("duration", pa.float64()),
        ("speech_seconds", pa.float64()),
        ("verdict", pa.string()),
        ("tier", pa.string()),
        ("p_spoof", pa.float64()),
        ("llr", pa.float64()),
        ("score", pa.float64()),
        ("prior", pa.float64()),
        ("n_windows", pa.int32()),
        ("timeline", TIMELINE_TYPE),
        ("sample_rate", pa.int32()),
        ("channels", pa.int32()),
        ("codec", pa.string()),
        ("container", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("model_sha256", pa.string()),
        ("error_code", pa.string()),
        ("error_message", pa.string()),
        ("processing_ms", pa.float64()),
        ("cpu_ms", pa.float64()),
        ("worker", pa.string()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
    ],
    metadata={"audio_detect.batch.schema_version": SCHEMA_VERSION},
)


def _now() -> datetime:
    return datetime.now(UTC)


def _model_columns(model: Mapping[str, str]) -> dict[str, str | None]:
    return {
        "model_name": model.get("name"),
        "model_version": model.get("version"),
        "model_sha256": model.get("sha256"),
    }


def decision_record(
    path: str,
    decision: Decision,
    *,
    sha256: str,
    size_bytes: int,
    worker: str,
    processing_ms: float,
    cpu_ms: float,
) -> dict[str, Any]:
    """The row of a file that was scored."""
    audio = decision.audio
    return {
        "path": path,
        "sha256": sha256,
        "size_bytes": size_bytes,
        "duration": decision.duration,
        "speech_seconds": decision.speech_seconds,
        "verdict": decision.verdict,
        "tier": decision.tier,
        "p_spoof": decision.p_spoof,
        "llr": decision.llr,
        "score": decision.score,
        "prior": decision.prior,
        "n_windows": len(decision.windows),
        "timeline": [
            {"start": w.start, "end": w.end, "llr": w.llr, "p_spoof": w.p_spoof}
            for w in decision.windows
        ],
        "sample_rate": audio.get("source_sr"),
        "channels": audio.get("channels"),
        "codec": audio.get("codec"),
        "container": audio.get("container"),
        **_model_columns(decision.model),
        "error_code": None,
        "error_message": None,
        "processing_ms": processing_ms,
        "cpu_ms": cpu_ms,
        "worker": worker,
        "scored_at": _now(),
    }


def error_record(
    path: str,
    *,
    code: str,
    message: str,
    model: Mapping[str, str],
    worker: str,
    sha256: str | None = None,
    size_bytes: int | None = None,
    processing_ms: float = 0.0,
    cpu_ms: float = 0.0,
) -> dict[str, Any]:
    """The row of a file that could not be scored (every score column null)."""
    row: dict[str, Any] = dict.fromkeys(SCHEMA.names)
    row.update(
        path=path,
        sha256=sha256,
        size_bytes=size_bytes,
        error_code=code,
        error_message=message,
        processing_ms=processing_ms,
        cpu_ms=cpu_ms,
        worker=worker,
        scored_at=_now(),
        **_model_columns(model),
    )
    return row


def records_to_table(
    records: Sequence[Mapping[str, Any]], *, schema: pa.Schema = SCHEMA
) -> pa.Table:
    """Rows (dicts with the :data:`SCHEMA` keys) as a table of exactly that schema."""
    return pa.Table.from_pylist(list(records), schema=schema)


# ------------------------------------------------------------------------- writing


def new_run_id() -> str:
    """A sortable, collision-free id for the shards of one run (UTC time + random)."""
    return f"{_now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_table_atomic(table: pa.Table, path: Path, *, compression: str = "zstd") -> Path:
    """Write ``table`` to ``path`` via a hidden temporary file, fsync and rename.

    Readers never see a partial file: before the rename it has a ``.tmp`` name that
    :func:`list_shards` ignores, after it the file is complete on disk.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(table, tmp, compression=compression)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


class ShardWriter:
    """Buffers rows and writes a shard every ``shard_rows`` rows.

    Parameters
    ----------
    out_dir : Path
        The output folder (created if missing).
    shard_rows : int
        Rows per shard; smaller shards lose less work when a job is killed.
    run_id : str, optional
        Prefix of this run's shard names (default :func:`new_run_id`).
    """

    def __init__(self, out_dir: Path, *, shard_rows: int = 1000, run_id: str | None = None) -> None:
        if shard_rows < 1:
            raise ParameterError.invalid("shard_rows", "an integer >= 1", shard_rows)
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.shard_rows = shard_rows
        self.run_id = run_id or new_run_id()
        self.shards: list[Path] = []
        self.rows_written = 0
        self._buffer: list[Mapping[str, Any]] = []

    def add(self, records: Iterable[Mapping[str, Any]]) -> list[Path]:
        """Buffer rows; return the shards written because the buffer filled up."""
        self._buffer.extend(records)
        written = []
        while len(self._buffer) >= self.shard_rows:
            written.append(self._write(self._buffer[: self.shard_rows]))
            del self._buffer[: self.shard_rows]  # only once the shard is on disk
        return written

    def flush(self) -> Path | None:
        """Write whatever is buffered as a (smaller) shard."""
        if not self._buffer:
            return None
        path = self._write(self._buffer)
        self._buffer = []
        return path

    def _write(self, rows: Sequence[Mapping[str, Any]]) -> Path:
        path = self.out_dir / f"part-{self.run_id}-{len(self.shards):06d}.parquet"
        write_table_atomic(records_to_table(rows), path)
        self.shards.append(path)
        self.rows_written += len(rows)
        logger.debug("wrote %s (%d rows)", path, len(rows))
        return path


# ------------------------------------------------------------------------- reading


def list_shards(out_dir: Path) -> list[Path]:
    """The complete shards of an output folder, oldest run first."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    return sorted(out_dir.glob(SHARD_GLOB))


def remove_stale_temp_files(out_dir: Path) -> int:
    """Delete temporary files left by a killed run; return how many.

    Only one job may write to an output folder at a time.
    """
    n = 0
    for tmp in Path(out_dir).glob(".part-*.tmp"):
        tmp.unlink(missing_ok=True)
        n += 1
    if n:
        logger.info("removed %d temporary file(s) of an interrupted run in %s", n, out_dir)
    return n


def _read_shards(shards: Sequence[Path], columns: Sequence[str] | None) -> list[pa.Table]:
    tables = []
    for shard in shards:
        try:
            tables.append(pq.read_table(shard, columns=list(columns) if columns else None))
        except (OSError, pa.ArrowException) as exc:
            # Cannot happen with write_table_atomic; a hand-copied partial file, say.
            logger.warning("ignoring unreadable shard %s: %s", shard, exc)
    return tables


def read_results(
    out_dir: Path, *, columns: Sequence[str] | None = None, latest: bool = True
) -> pa.Table:
    """All rows of a job's output folder.

    Parameters
    ----------
    out_dir : Path
        The ``--out`` folder.
    columns : sequence of str, optional
        Columns to read (all by default; ``path`` and ``scored_at`` are added when
        ``latest`` needs them).
    latest : bool
        Keep only the newest row of each path (a file rescored because it changed,
        or retried after a failure, has older rows in earlier shards).
    """
    cols = list(columns) if columns else None
    if cols is not None and latest:
        cols += [c for c in ("path", "scored_at") if c not in cols]
    tables = _read_shards(list_shards(out_dir), cols)
    if not tables:
        schema = SCHEMA if cols is None else pa.schema([SCHEMA.field(c) for c in cols])
        return schema.empty_table()
    table = pa.concat_tables(tables, promote_options="default")
    if not latest:
        return table
    newest: dict[str, tuple[Any, int]] = {}
    for i, (p, t) in enumerate(
        zip(table.column("path").to_pylist(), table.column("scored_at").to_pylist(), strict=True)
    ):
        if p not in newest or t >= newest[p][0]:
            newest[p] = (t, i)
    return table.take(sorted(i for _, i in newest.values()))


def load_done_index(out_dir: Path, *, retry_failed: bool = False) -> dict[str, set[str]]:
    """Map each path already handled to the sha256 values it was handled with.

    Rows with an error in :data:`RETRY_CODES` (or without a sha256) do not count as
    done; with ``retry_failed`` no failed row counts.
    """
    done: dict[str, set[str]] = {}
    for table in _read_shards(list_shards(out_dir), ("path", "sha256", "error_code")):
        for path, sha, code in zip(
            table.column("path").to_pylist(),
            table.column("sha256").to_pylist(),
            table.column("error_code").to_pylist(),
            strict=True,
        ):
            if sha is None or (code is not None and (retry_failed or code in RETRY_CODES)):
                continue
            done.setdefault(path, set()).add(sha)
    return done
