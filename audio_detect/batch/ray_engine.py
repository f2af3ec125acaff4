"""The ``ray`` engine: a Ray Data pipeline over a local or existing Ray cluster.

Pipeline::

    from_items(paths)                      work items, a few files per block
      -> map_batches(RayScorer, ActorPoolStrategy(size=workers), num_cpus=1)
             each actor unpacks the model once and runs score_items()
      -> iter_batches() on the driver      rows stream back as they are scored
      -> ShardWriter (in audio_detect.batch.job) writes Parquet shards atomically

The model directory is read and verified on the driver and shipped to the actors as
bytes, so cluster nodes need the ``audio-detect`` package but not the ``models/``
folder; each actor re-verifies every sha256 when it loads the copy. Recordings are
read by the actors: every node must see the input paths (shared storage). Rows are a
few kilobytes, so the driver writes the shards (the output folder only has to exist on
the driver) and feeds the progress bar and the audit store.

``ray.init`` is called only when no Ray session exists: with ``address`` (or
``$RAY_ADDRESS``) it joins that cluster, otherwise it starts a private local one on the
loopback interface (no dashboard, usage statistics off unless
``RAY_USAGE_STATS_ENABLED`` says otherwise), shut down again at the end. A session
the caller opened is reused and left running.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, cast

from ..exceptions import ParameterError
from ..registry import MANIFEST_NAME, ModelDir
from .local import ScoredChunk
from .records import SCHEMA, records_to_table
from .scoring import ScoreOptions, WorkItem, load_worker_detector, score_items

__all__ = ["RayScorer", "iter_ray", "pack_model_dir", "unpack_model_dir"]

logger = logging.getLogger(__name__)

_SKIPPED = "_skipped"
_MAX_BLOCKS = 20_000
_MAX_TASK_RETRIES = 3


def pack_model_dir(model: ModelDir) -> dict[str, Any]:
    """The files of a verified model directory as ``{"name": dir name, "files": {name: bytes}}``."""
    names = [MANIFEST_NAME, *model.manifest["files"]]
    return {"name": model.path.name, "files": {n: (model.path / n).read_bytes() for n in names}}


def unpack_model_dir(bundle: dict[str, Any], dest: Path) -> Path:
    """Write a :func:`pack_model_dir` bundle below ``dest``; return the model directory."""
    root = Path(dest) / bundle["name"]
    for name, data in bundle["files"].items():
        target = (root / name).resolve()
        if root.resolve() not in target.parents:
            raise ParameterError.invalid("bundle", "file names inside the model directory", name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


class RayScorer:
    """Ray Data actor: loads the model once, scores batches of work items.

    Returns the rows in :data:`~audio_detect.batch.records.SCHEMA` plus a boolean
    ``_skipped`` column marking files whose sha256 was already scored (all other
    columns of those rows are null).
    """

    def __init__(self, bundle: dict[str, Any], options: dict[str, Any]) -> None:
        tmp = tempfile.mkdtemp(prefix="audio-detect-model-")
        try:
            self.detector = load_worker_detector(unpack_model_dir(bundle, Path(tmp)))
        finally:  # weights are in memory now
            shutil.rmtree(tmp, ignore_errors=True)
        self.options = ScoreOptions(**options)

    def __call__(self, batch: Any) -> Any:
        """Score one batch (a ``pyarrow.Table`` with ``path`` and ``known`` columns)."""
        import pyarrow as pa

        items = list(
            zip(batch.column("path").to_pylist(), batch.column("known").to_pylist(), strict=True)
        )
        rows, skipped = score_items(
            self.detector, [(p, frozenset(k or ())) for p, k in items], options=self.options
        )
        rows = [{**r, _SKIPPED: False} for r in rows] + [
            {"path": p, _SKIPPED: True} for p in skipped
        ]
        return records_to_table(rows, schema=SCHEMA.append(pa.field(_SKIPPED, pa.bool_())))


def _score_stage(source: Any, **kwargs: Any) -> Any:
    """``source.map_batches(RayScorer, ...)`` with a bounded retry count.

    A dead actor (OOM, decoder crash) is replaced and its batch retried, but not
    forever: Ray Data's default (``max_task_retries=-1``) would loop on a file that
    kills its actor. Ray deprecates passing these as extra keyword arguments without a
    named replacement yet; on a Ray that no longer accepts them the default applies.
    """
    retries = {"max_restarts": -1, "max_task_retries": _MAX_TASK_RETRIES}
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
            return source.map_batches(RayScorer, **kwargs, **retries)
    except TypeError:  # pragma: no cover - future Ray
        logger.warning("this Ray version takes no max_task_retries; using its default")
        return source.map_batches(RayScorer, **kwargs)


def _connect(address: str | None, num_cpus: int | None) -> bool:
    """Make sure a Ray session exists; return True when this call started it."""
    import ray

    if ray.is_initialized():
        logger.debug("using the Ray session already open in this process")
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    common: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address:
        logger.info("joining the Ray cluster at %s", address)
        ray.init(address=address, **common)
    else:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        logger.info("starting a local Ray instance (%s CPUs)", num_cpus or "all")
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            **common,
        )
    return True


def iter_ray(
    items: Sequence[WorkItem],
    *,
    model: ModelDir,
    options: ScoreOptions,
    workers: int | None = None,
    address: str | None = None,
    batch_size: int = 4,
) -> Generator[ScoredChunk, None, None]:
    """Score ``items`` with a Ray Data actor pool; yield results as batches complete.

    Parameters
    ----------
    items : sequence of WorkItem
        ``(path, sha256 values already scored)`` pairs.
    model : ModelDir
        The verified model directory (shipped to every actor).
    options : ScoreOptions
        Per-file scoring options.
    workers : int, optional
        Actors (one CPU each); default: every CPU of the cluster.
    address : str, optional
        Address of an existing cluster (``ray://host:10001``, ``host:6379`` or ``auto``);
        None starts a local instance unless a session is already open.
    batch_size : int
        Files per actor call.
    """
    if workers is not None and workers < 1:
        raise ParameterError.invalid("workers", "an integer >= 1 or None", workers)
    if batch_size < 1:
        raise ParameterError.invalid("batch_size", "an integer >= 1", batch_size)
    if not items:
        return
    import pyarrow as pa

    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ParameterError(
            f"engine='ray' needs Ray Data ({exc}); install the batch extra: "
            "pip install 'audio-detect[batch]'"
        ) from exc

    started = _connect(address, workers)
    ctx = ray.data.DataContext.get_current()
    saved = ctx.enable_progress_bars, ctx.enable_auto_log_stats
    try:
        n_actors = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        ctx.enable_progress_bars = False  # the caller draws its own
        ctx.enable_auto_log_stats = False
        # At least one block per actor, at most one batch per block (load balance).
        n_blocks = min(_MAX_BLOCKS, len(items), max(n_actors, math.ceil(len(items) / batch_size)))
        source = ray.data.from_items(
            [{"path": p, "known": sorted(k)} for p, k in items], override_num_blocks=n_blocks
        )
        ds = _score_stage(
            source,
            fn_constructor_kwargs={"bundle": pack_model_dir(model), "options": options.to_dict()},
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=n_actors),
            num_cpus=1,
        )
        logger.info("Ray Data: %d files, %d actors, %d blocks", len(items), n_actors, n_blocks)
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            table = cast(pa.Table, batch)
            flags = table.column(_SKIPPED).to_pylist()
            rows = table.drop_columns([_SKIPPED]).to_pylist()
            yield (
                [r for r, s in zip(rows, flags, strict=True) if not s],
                [r["path"] for r, s in zip(rows, flags, strict=True) if s],
            )
    finally:
        ctx.enable_progress_bars, ctx.enable_auto_log_stats = saved
        if started:
            ray.shutdown()
