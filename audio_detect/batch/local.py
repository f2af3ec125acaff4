"""The ``local`` engine: a process pool on this machine, one model per worker.

Work items are cut into small chunks and handed to ``workers`` processes, each of
which loads the model once (:func:`~audio_detect.batch.scoring.load_worker_detector`)
and runs :func:`~audio_detect.batch.scoring.score_items` -- the code the Ray engine's
actors run. Results come back chunk by chunk as they complete, with a bounded number
of chunks in flight, so memory stays flat however long the input list is. With one
worker everything runs in the calling process.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from ..exceptions import ParameterError
from .scoring import ScoreOptions, WorkItem, load_worker_detector, score_items

__all__ = ["ScoredChunk", "iter_local"]

logger = logging.getLogger(__name__)

#: ``(rows, paths skipped as already scored)`` of one chunk of work items.
ScoredChunk = tuple[list[dict[str, Any]], list[str]]

_WORKER: dict[str, Any] = {}


def _init_worker(model_path: str, options: dict[str, Any]) -> None:
    _WORKER["detector"] = load_worker_detector(model_path)
    _WORKER["options"] = ScoreOptions(**options)


def _score_chunk(items: list[WorkItem]) -> ScoredChunk:
    return score_items(_WORKER["detector"], items, options=_WORKER["options"])


def _chunks(items: Sequence[WorkItem], size: int) -> Iterator[list[WorkItem]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def iter_local(
    items: Sequence[WorkItem],
    *,
    model_path: str | Path,
    options: ScoreOptions,
    workers: int = 1,
    chunk_size: int = 4,
) -> Generator[ScoredChunk, None, None]:
    """Score ``items`` in ``workers`` processes; yield each chunk's results as it completes.

    Parameters
    ----------
    items : sequence of WorkItem
        ``(path, sha256 values already scored)`` pairs.
    model_path : str or Path
        A model directory (verified again by each worker).
    options : ScoreOptions
        Per-file scoring options.
    workers : int
        Worker processes; 1 scores in the calling process.
    chunk_size : int
        Files per task handed to a worker.
    """
    if workers < 1:
        raise ParameterError.invalid("workers", "an integer >= 1", workers)
    if chunk_size < 1:
        raise ParameterError.invalid("chunk_size", "an integer >= 1", chunk_size)
    if not items:
        return
    opts = options.to_dict()
    if workers == 1:  # in this process: limit BLAS threads only while scoring
        from threadpoolctl import threadpool_limits

        detector = load_worker_detector(model_path, limit_blas=False)
        with threadpool_limits(1):
            for chunk in _chunks(items, chunk_size):
                yield score_items(detector, chunk, options=options)
        return
    # fork, as evaluate_manifest: works from scripts without a __main__ guard and
    # from notebooks; the model is loaded after the fork, in each worker.
    ctx = multiprocessing.get_context("fork")
    max_in_flight = workers * 4
    chunks = _chunks(items, chunk_size)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(str(model_path), opts),
    ) as pool:
        pending: set[Future[ScoredChunk]] = set()
        for chunk in chunks:
            pending.add(pool.submit(_score_chunk, chunk))
            if len(pending) >= max_in_flight:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                nxt = next(chunks, None)
                if nxt is not None:
                    pending.add(pool.submit(_score_chunk, nxt))
