"""The one scoring path of batch jobs, shared by the local and the Ray engine.

:func:`score_path` reads a file once, hashes the bytes it read and scores those same
bytes with :meth:`Detector.score_file <audio_detect.detector.Detector.score_file>` and
the options of ``audio-detect score``, so a batch row holds exactly the numbers that
command prints. Every failure becomes a row with an error code; nothing raises.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..constants import DEFAULT_MAX_SECONDS
from ..detector import Detector
from ..exceptions import AudioDetectError, AudioTooLongError, ParameterError
from ..registry import sha256_file
from .records import decision_record, error_record

__all__ = [
    "ScoreOptions",
    "WorkItem",
    "load_worker_detector",
    "score_items",
    "score_path",
    "worker_id",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreOptions:
    """Per-file scoring options (the defaults are those of ``audio-detect score``).

    Parameters
    ----------
    channel : str or int
        ``"mix"`` or the 0-based channel of the caller.
    max_seconds : float
        Longest audio accepted (longer files fail with ``audio_too_long``).
    max_bytes : int
        Largest file accepted (bigger files fail with ``audio_too_long``).
    prior : float, optional
        P(spoof) prior of the posterior; the model's by default.
    """

    channel: str | int = "mix"
    max_seconds: float = DEFAULT_MAX_SECONDS
    max_bytes: int = 512 * 2**20
    prior: float | None = None

    def __post_init__(self) -> None:
        if not self.max_seconds > 0:
            raise ParameterError.invalid("max_seconds", "a positive number", self.max_seconds)
        if self.max_bytes < 1:
            raise ParameterError.invalid("max_bytes", "a positive integer", self.max_bytes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (picklable across processes and Ray actors)."""
        return asdict(self)


#: ``(path, sha256 values it was already scored with)``.
WorkItem = tuple[str, Collection[str]]


def worker_id() -> str:
    """``host:pid`` of the current process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def load_worker_detector(
    model: str | Path, *, threads: int = 1, limit_blas: bool = True
) -> Detector:
    """Load a detector for a worker that owns ``threads`` cores.

    onnxruntime gets ``threads`` intra-op threads and, with ``limit_blas``, the BLAS
    pools of this process are limited to ``threads`` (for worker processes: the limit
    is process-wide), so that N workers on N cores do not oversubscribe the machine.
    """
    if limit_blas:
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads)
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            logger.debug("threadpoolctl missing; BLAS thread count left as is")
    return Detector.load(model, intra_op_threads=threads)


def _read(path: str, max_bytes: int) -> tuple[bytes | None, str, int]:
    """The file's bytes (None when above ``max_bytes``), sha256 and size."""
    size = os.stat(path).st_size
    if size > max_bytes:
        return None, sha256_file(path), size
    with open(path, "rb") as fh:
        data = fh.read()
    return data, hashlib.sha256(data).hexdigest(), len(data)


def score_path(
    detector: Detector,
    path: str,
    *,
    options: ScoreOptions | None = None,
    skip_sha256: Collection[str] = (),
) -> dict[str, Any] | None:
    """Score one file and return its row (see :mod:`audio_detect.batch.records`).

    Parameters
    ----------
    detector : Detector
        The loaded model.
    path : str
        The recording.
    options : ScoreOptions, optional
        Scoring options; those of ``audio-detect score`` by default.
    skip_sha256 : collection of str
        sha256 values this path was already scored with: when the file's bytes hash
        to one of them, nothing is scored and None is returned.

    Returns
    -------
    dict or None
        The row; a failed file gives a row with ``error_code`` set.
    """
    options = options or ScoreOptions()
    t0, c0 = time.perf_counter(), time.process_time()
    worker = worker_id()

    def elapsed() -> dict[str, float]:
        return {
            "processing_ms": round((time.perf_counter() - t0) * 1e3, 2),
            "cpu_ms": round((time.process_time() - c0) * 1e3, 2),
        }

    def failed(
        code: str, message: str, sha: str | None = None, size: int | None = None
    ) -> dict[str, Any]:
        return error_record(
            path, code=code, message=message, model=detector.info, worker=worker,
            sha256=sha, size_bytes=size, **elapsed(),
        )  # fmt: skip

    try:
        data, sha, size = _read(path, options.max_bytes)
    except FileNotFoundError as exc:
        return failed("file_not_found", f"{path}: {exc.strerror or exc}")
    except OSError as exc:
        return failed("io_error", f"{path}: {exc.strerror or exc}")
    if sha in skip_sha256:
        return None
    if data is None:  # the check load_audio makes, without reading the file
        message = f"The input is {size} bytes, above max_bytes={options.max_bytes}."
        return failed(AudioTooLongError.code, message, sha, size)
    try:
        decision = detector.score_file(
            data,
            channel=options.channel,
            max_seconds=options.max_seconds,
            prior=options.prior,
        )
    except AudioDetectError as exc:
        logger.info("%s: [%s] %s", path, exc.code, exc)
        return failed(exc.code, str(exc), sha, size)
    except Exception as exc:  # a bug must cost one row, never the whole job
        logger.exception("unexpected error scoring %s", path)
        return failed("internal_error", f"{type(exc).__name__}: {exc}", sha, size)
    return decision_record(path, decision, sha256=sha, size_bytes=size, worker=worker, **elapsed())


def score_items(
    detector: Detector, items: Iterable[WorkItem], *, options: ScoreOptions | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Score work items; return the rows and the paths skipped as already scored."""
    records: list[dict[str, Any]] = []
    skipped: list[str] = []
    for path, known in items:
        row = score_path(detector, path, options=options, skip_sha256=known)
        if row is None:
            skipped.append(path)
        else:
            records.append(row)
    return records, skipped
