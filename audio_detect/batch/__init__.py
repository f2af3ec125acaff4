"""Batch screening of call archives: every file of a folder, glob or manifest to Parquet.

Two engines share one scoring function (:func:`score_path`): ``local`` (a process
pool on this machine) and ``ray`` (a Ray Data actor pool on a local or existing
cluster). Output shards are written atomically and a rerun skips files already
scored with the same content (path + sha256). See ``docs/batch.md``.

Examples
--------
>>> from audio_detect.batch import read_results, run_batch
>>> summary = run_batch("/archive/2024-05-01", out="/screening/2024-05-01")  # doctest: +SKIP
>>> table = read_results("/screening/2024-05-01")  # doctest: +SKIP
"""

from __future__ import annotations

from .inputs import AUDIO_EXTENSIONS, resolve_inputs
from .job import ENGINES, BatchProgress, BatchSummary, run_batch
from .records import SCHEMA, ShardWriter, list_shards, load_done_index, read_results
from .scoring import ScoreOptions, load_worker_detector, score_path

__all__ = [
    "AUDIO_EXTENSIONS",
    "ENGINES",
    "SCHEMA",
    "BatchProgress",
    "BatchSummary",
    "ScoreOptions",
    "ShardWriter",
    "list_shards",
    "load_done_index",
    "load_worker_detector",
    "read_results",
    "resolve_inputs",
    "run_batch",
    "score_path",
]
