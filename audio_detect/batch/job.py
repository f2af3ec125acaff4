"""One batch job: list the inputs, skip what is done, score the rest, write shards.

:func:`run_batch` is what ``audio-detect batch`` runs. The engines only score; this
module plans the work from the output folder's resume index, writes every row the
engine yields into Parquet shards (and the optional audit store) and reports progress.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ParameterError
from ..registry import load_model_dir
from .audit import AuditWriter, open_audit_sink
from .inputs import AUDIO_EXTENSIONS, resolve_inputs
from .local import ScoredChunk, iter_local
from .records import ShardWriter, load_done_index, remove_stale_temp_files
from .scoring import ScoreOptions, WorkItem

__all__ = ["ENGINES", "BatchProgress", "BatchSummary", "plan_items", "run_batch"]

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class BatchProgress:
    """Counters handed to the progress callback after every completed chunk."""

    done: int
    total: int
    scored: int
    skipped: int
    failed: int
    audio_seconds: float
    elapsed: float

    @property
    def files_per_second(self) -> float:
        """Files handled (scored or skipped) per second of wall time."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def audio_hours_per_second(self) -> float:
        """Hours of audio scored per second of wall time."""
        return self.audio_seconds / 3600.0 / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class BatchSummary:
    """What a job did.

    ``scored`` counts the rows written by this run (``failed`` of them with an error);
    ``skipped`` the inputs already scored with the same content by an earlier run.
    """

    out: str
    engine: str
    workers: int | None
    model: dict[str, str]
    total: int = 0
    scored: int = 0
    skipped: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    shards: list[str] = field(default_factory=list)
    audit_rows: int = 0
    audit_error: str | None = None

    @property
    def audio_hours_per_hour(self) -> float:
        """Hours of audio scored per hour of wall time (the speed-up over real time)."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with the throughput."""
        return {**asdict(self), "audio_hours_per_hour": round(self.audio_hours_per_hour, 3)}


def plan_items(paths: Iterable[str], done: dict[str, set[str]]) -> list[WorkItem]:
    """Pair each path with the sha256 values it was already scored with.

    The comparison itself happens in the workers (they hash the file anyway), so a
    rerun over millions of files does not hash them all on the driver.
    """
    return [(p, frozenset(done.get(p, ()))) for p in paths]


def _engine_iter(
    engine: str,
    items: Sequence[WorkItem],
    *,
    model: Any,
    options: ScoreOptions,
    workers: int | None,
    ray_address: str | None,
    batch_size: int,
) -> Generator[ScoredChunk, None, None]:
    if engine == "local":
        return iter_local(
            items, model_path=model.path, options=options, workers=workers or 1,
            chunk_size=batch_size,
        )  # fmt: skip
    from .ray_engine import iter_ray

    return iter_ray(
        items,
        model=model,
        options=options,
        workers=workers,
        address=ray_address,
        batch_size=batch_size,
    )


def run_batch(
    source: str | os.PathLike[str] | Sequence[str],
    *,
    out: str | os.PathLike[str],
    engine: str = "local",
    workers: int | None = None,
    model: str | os.PathLike[str] | None = None,
    ray_address: str | None = None,
    shard_rows: int = 1000,
    batch_size: int = 4,
    options: ScoreOptions | None = None,
    retry_failed: bool = False,
    audit_db: str | None = None,
    extensions: Iterable[str] | None = AUDIO_EXTENSIONS,
    progress: Callable[[BatchProgress], None] | None = None,
) -> BatchSummary:
    """Score every recording of ``source`` not yet in ``out``; write Parquet shards.

    Parameters
    ----------
    source : str, path-like or sequence of str
        Folder, glob, ``.csv``/``.parquet`` manifest (see
        :func:`~audio_detect.batch.inputs.resolve_inputs`), or a list of paths.
    out : str or path-like
        Output folder of ``part-*.parquet`` shards (created if missing).
    engine : {"local", "ray"}
        Process pool on this machine, or Ray Data on a local or existing cluster.
    workers : int, optional
        Worker processes / actors; default: every CPU (of the cluster, for Ray).
    model : str or path-like, optional
        Model name or directory; the default model when None.
    ray_address : str, optional
        Existing Ray cluster to join (``engine="ray"``).
    shard_rows : int
        Rows per shard.
    batch_size : int
        Files per worker task.
    options : ScoreOptions, optional
        Per-file options (those of ``audio-detect score`` by default).
    retry_failed : bool
        Also rescore files whose earlier rows hold an error.
    audit_db : str, optional
        URL of the API audit store to copy rows into (skipped when unavailable).
    extensions : iterable of str, optional
        Extensions listed from a folder input (None: every file).
    progress : callable, optional
        Called with a :class:`BatchProgress` after every completed chunk.

    Returns
    -------
    BatchSummary
        Counts, throughput and the shards written.
    """
    if engine not in ENGINES:
        raise ParameterError.invalid("engine", f"one of {ENGINES}", engine)
    if workers is not None and workers < 1:
        raise ParameterError.invalid("workers", "an integer >= 1 or None", workers)
    if ray_address and engine != "ray":
        raise ParameterError.invalid("ray_address", "set only with engine='ray'", ray_address)
    t0 = time.perf_counter()
    options = options or ScoreOptions()
    if isinstance(source, str | os.PathLike):
        paths = resolve_inputs(source, extensions=extensions)
    else:
        paths = list(dict.fromkeys(os.path.abspath(p) for p in source))
    model_dir = load_model_dir(
        None if model is None else os.fspath(model)
    )  # fail fast, before any worker starts
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(out_dir)
    items = plan_items(paths, load_done_index(out_dir, retry_failed=retry_failed))
    if engine == "local" and workers is None:
        workers = min(os.cpu_count() or 1, max(1, len(items)))
    writer = ShardWriter(out_dir, shard_rows=shard_rows)
    audit = AuditWriter(
        open_audit_sink(
            audit_db, thresholds=model_dir.manifest.get("thresholds", {}), run_id=writer.run_id
        )
        if audit_db
        else None
    )
    summary = BatchSummary(
        out=str(out_dir),
        engine=engine,
        workers=workers,
        model={"name": model_dir.name, "version": model_dir.version, "sha256": model_dir.sha256},
        total=len(items),
    )
    logger.info(
        "batch %s: %d files, engine %s, output %s", writer.run_id, len(items), engine, out_dir
    )
    chunks = _engine_iter(
        engine,
        items,
        model=model_dir,
        options=options,
        workers=workers,
        ray_address=ray_address,
        batch_size=batch_size,
    )
    try:
        for rows, skipped in chunks:
            writer.add(rows)
            audit.add(rows)
            summary.scored += len(rows)
            summary.skipped += len(skipped)
            summary.failed += sum(r["error_code"] is not None for r in rows)
            summary.audio_seconds += sum(r["duration"] or 0.0 for r in rows)
            if progress:
                progress(
                    BatchProgress(
                        done=summary.scored + summary.skipped,
                        total=summary.total,
                        scored=summary.scored,
                        skipped=summary.skipped,
                        failed=summary.failed,
                        audio_seconds=summary.audio_seconds,
                        elapsed=time.perf_counter() - t0,
                    )
                )
    finally:
        chunks.close()  # stops the pool / Ray session now, also on errors
        writer.flush()  # also on Ctrl-C: rows already scored are kept
        audit.close()
        summary.shards = [str(p) for p in writer.shards]
        summary.audit_rows, summary.audit_error = audit.rows, audit.error
        summary.wall_seconds = time.perf_counter() - t0
    logger.info(
        "batch %s done: %d scored (%d failed), %d skipped, %d shards, %.1f s",
        writer.run_id, summary.scored, summary.failed, summary.skipped,
        len(writer.shards), summary.wall_seconds,
    )  # fmt: skip
    return summary
