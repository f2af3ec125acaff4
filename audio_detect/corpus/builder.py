"""Plan, render, process and index the open training corpus.

``build_corpus`` is resumable (an item is done when its ``items/<id>.json`` record exists;
audio and records are written under temporary names and renamed), deterministic (every
random choice is seeded from the global seed and the item id) and parallel (process pool).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from ..allocator import keep_freed_memory
from ..constants import BONAFIDE_NAME
from ..exceptions import ParameterError
from ._io import write_flac
from .generators import (
    GENERATORS,
    Generator,
    Item,
    PlanContext,
    derive_seed,
    get_generator,
    load_builtin_generators,
)
from .postprocess import OUT_SR, ProcessSpec, process
from .splits import assign_system_splits, write_protocols
from .texts import TextBank

__all__ = ["MANIFEST_COLUMNS", "BuildOptions", "BuildResult", "build_corpus", "plan_corpus"]

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS = (
    "path",
    "label",
    "system",
    "family",
    "source",
    "speaker",
    "language",
    "text",
    "channel",
    "split",
    "duration_s",
    "item",
    "parent",
)
#: Generators of a ``--smoke`` build (each skipped when its engine is missing).
SMOKE_SOURCES = ("fixtures", "espeak", "flite", "copysynth")
#: Share of narrowband items in each class (natively 8 kHz items count towards it).
NARROWBAND_SHARE = 0.78


@dataclass
class BuildOptions:
    """Options of :func:`build_corpus` (mirrors the CLI).

    Attributes
    ----------
    out_dir : Path
        Corpus root (``manifest.csv``, ``audio/``, ``items/``, ``protocols/``).
    sources : sequence of str or None
        Generator names; None means every available one that is not opt-in (smoke:
        :data:`SMOKE_SOURCES`); a name written ``+name`` is added to that default list.
    shared_corpus : Path or None
        Developers' corpus root (default ``$AUDIO_DETECT_SHARED_CORPUS`` or ``../shared/corpus``).
    fixtures : Path or None
        Folder of ``bonafide_*.flac``/``spoof_*.flac`` for the ``fixtures`` source.
    workers : int
        Processes.
    seed : int
        Global seed.
    smoke : bool
        Tiny build for tests.
    max_hours : float or None
        Scales the generators' default hours so their sum is at most this.
    """

    out_dir: Path
    sources: Sequence[str] | None = None
    shared_corpus: Path | None = None
    fixtures: Path | None = None
    workers: int = 1
    seed: int = 0
    smoke: bool = False
    max_hours: float | None = None


@dataclass
class BuildResult:
    """What a build produced."""

    manifest: Path
    rows: list[dict[str, str]]
    summary: dict[str, object]
    failed: list[str] = field(default_factory=list)
    skipped_sources: dict[str, str] = field(default_factory=dict)


def _instantiate(name: str, opts: BuildOptions) -> Generator:
    load_builtin_generators()
    if name not in GENERATORS:
        raise ParameterError.invalid("sources", f"names from {sorted(GENERATORS)}", name)
    cls = GENERATORS[name]
    if name == "shared":
        return cls(opts.shared_corpus)  # type: ignore[call-arg]
    if name == "fixtures":
        return cls(opts.fixtures)  # type: ignore[call-arg]
    if name == "neural_codec":
        return cls(Path(opts.out_dir) / "codecs")  # type: ignore[call-arg]
    return cls()


def plan_corpus(opts: BuildOptions, *, prepare: bool = False) -> tuple[list[Item], dict[str, str]]:
    """Return (items with their processing seed in ``params['_band']``, skipped sources).

    With ``prepare``, generators that need a model of their own (the ``neural_codec``
    codecs, trained on the planned bona fide training items) make it first, under
    ``opts.out_dir``; without it they plan only what is already there.
    """
    load_builtin_generators()
    # ``+name`` adds an opt-in source to the default list instead of replacing it.
    given = list(opts.sources or [])
    extra = [s[1:] for s in given if s.startswith("+")]
    names = [s for s in given if not s.startswith("+")] or list(
        SMOKE_SOURCES
        if opts.smoke
        else [n for n, g in GENERATORS.items() if n != "fixtures" and not g.opt_in]
    )
    names += [s for s in extra if s not in names]
    gens: list[Generator] = []
    skipped: dict[str, str] = {}
    for name in names:
        gen = _instantiate(name, opts)
        if gen.available():
            gens.append(gen)
        else:
            skipped[name] = gen.unavailable_reason()
            logger.warning("source %s skipped: %s", name, skipped[name])
    systems: dict[str, str] = {}
    pinned: dict[str, str] = {}
    for gen in gens:
        systems.update(gen.systems())
        if hasattr(gen, "pinned_splits"):
            pinned.update(gen.pinned_splits())
    system_split = assign_system_splits(systems, pinned=pinned, seed=opts.seed)
    ctx = PlanContext(
        seed=opts.seed,
        smoke=opts.smoke,
        texts=TextBank.default(),
        system_split=lambda s, f: system_split.get(s, "train"),
    )
    total_default = sum(g.default_hours for g in gens) or 1.0
    scale = min(1.0, opts.max_hours / total_default) if opts.max_hours else 1.0
    items: list[Item] = []
    for gen in sorted(gens, key=lambda g: (not g.produces_bonafide, g.needs_source_audio)):
        if prepare and hasattr(gen, "prepare"):
            gen.prepare(ctx, out_dir=Path(opts.out_dir), workers=opts.workers)
        planned = gen.plan(ctx, hours=gen.default_hours * scale)
        if gen.produces_bonafide and scale < 1.0:
            # File sources plan everything they hold; a budget keeps a seeded share.
            rng = ctx.rng(f"budget:{gen.name}")
            planned = [it for it in planned if rng.random() < scale]
        logger.info("%s: %d items planned", gen.name, len(planned))
        if gen.produces_bonafide:
            ctx.bonafide.extend(it for it in planned if it.label == BONAFIDE_NAME)
        items.extend(planned)
    ids = [it.item_id for it in items]
    if len(set(ids)) != len(ids):
        raise ParameterError("Two planned items share an id; generator ids must be unique.")
    return _assign_bands(items, opts.seed), skipped


def _assign_bands(items: list[Item], seed: int) -> list[Item]:
    """Give both classes the same narrowband share (native 8 kHz items are narrowband)."""
    out: list[Item] = []
    for label in {it.label for it in items}:
        sel = [it for it in items if it.label == label]
        total = sum(it.est_seconds for it in sel) or 1.0
        native = sum(it.est_seconds for it in sel if it.native_sr <= 8000) / total
        p = max(0.0, (NARROWBAND_SHARE - native) / max(1e-9, 1.0 - native))
        if native > NARROWBAND_SHARE:
            logger.warning(
                "%s: %.0f%% natively narrowband > target %.0f%%",
                label,
                100 * native,
                100 * NARROWBAND_SHARE,
            )
        for it in sel:
            s = derive_seed(seed, "band:" + it.item_id)
            band = "nb" if it.native_sr <= 8000 or (s % 10_000) / 10_000 < p else "wb"
            out.append(dataclasses.replace(it, params={**it.params, "_band": band}))
    order = {it.item_id: i for i, it in enumerate(items)}
    return sorted(out, key=lambda it: order[it.item_id])


def _one_thread_per_worker() -> None:
    """Pool initialiser: one BLAS/OpenMP/torch thread per worker process.

    Each worker already takes a core; nested thread pools (OpenBLAS, MKL, torch) would
    oversubscribe the machine and spend most of it spinning in the kernel. Freed heap
    memory stays in the worker (:func:`audio_detect.allocator.keep_freed_memory`), so
    copy-synthesis does not page-fault its layer outputs in again for every item.
    """
    keep_freed_memory()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def _render_item(item: Item, out_dir: str, seed: int) -> tuple[str, list[dict[str, str]], str]:
    """Worker: render, process and write one item; return (id, rows, error)."""
    record = Path(out_dir) / "items" / f"{item.item_id}.json"
    if record.is_file():
        return item.item_id, json.loads(record.read_text(encoding="utf-8")), ""
    item_seed = derive_seed(seed, item.item_id)
    try:
        y, sr = _rendered(item, Path(out_dir), item_seed)
        segments = process(y, sr, ProcessSpec(band=item.params["_band"], seed=item_seed))
    except Exception as exc:  # one bad item must not stop a long build
        logger.warning("item %s failed: %r", item.item_id, exc)
        return item.item_id, [], f"{type(exc).__name__}: {exc}"
    rows: list[dict[str, str]] = []
    sub = item.generator if item.label != BONAFIDE_NAME else "bonafide"
    for k, (seg, channel) in enumerate(segments):
        rel = f"audio/{item.split}/{sub}/{item.item_id}_{k:02d}.flac"
        write_flac(Path(out_dir) / rel, seg, OUT_SR)
        rows.append(
            {
                "path": rel,
                "label": item.label,
                "system": item.system,
                "family": item.family,
                "source": item.source,
                "speaker": item.speaker,
                "language": item.language,
                "text": item.text,
                "channel": channel,
                "split": item.split,
                "duration_s": f"{len(seg) / OUT_SR:.3f}",
            }
        )
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_name(f".{record.name}.tmp")
    tmp.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, record)
    return item.item_id, rows, ""


def _parent_of(item: Item) -> str:
    """The bona fide item a transform item was made from (``""`` for anything else)."""
    src = item.params.get("source")
    return str(src.get("item_id", "")) if isinstance(src, dict) else ""


def _rendered(item: Item, out_dir: Path, seed: int) -> tuple[np.ndarray, int]:
    """The generator's raw output, cached in ``raw/`` so processing can be redone cheaply."""
    raw = out_dir / "raw" / item.split / f"{item.item_id}.flac"
    if raw.is_file():
        y, sr = sf.read(str(raw), dtype="float32")
        return y, int(sr)
    y, sr = get_generator(item.generator).generate(item, seed=seed)
    y = np.asarray(y, dtype=np.float32)
    peak = float(np.max(np.abs(y), initial=0.0))
    if peak > 1.0:
        y = y / peak
    raw.parent.mkdir(parents=True, exist_ok=True)
    tmp = raw.with_name(f".{raw.name}.tmp")
    sf.write(str(tmp), y, sr, subtype="PCM_24", format="FLAC")
    os.replace(tmp, raw)
    return y, sr


def build_corpus(
    opts: BuildOptions,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> BuildResult:
    """Build (or resume) the corpus described by ``opts``.

    Parameters
    ----------
    opts : BuildOptions
        Where and what to build.
    progress : callable, optional
        ``progress(done, total, item_id)`` after every item.

    Returns
    -------
    BuildResult
        Manifest path, rows, split summary, failed item ids and skipped sources.
    """
    if opts.workers < 1:
        raise ParameterError.invalid("workers", "an integer >= 1", opts.workers)
    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if opts.shared_corpus:
        os.environ["AUDIO_DETECT_SHARED_CORPUS"] = str(opts.shared_corpus)
    items, skipped = plan_corpus(opts, prepare=True)
    (out / "plan.json").write_text(
        json.dumps(
            {
                "n_items": len(items),
                "skipped_sources": skipped,
                "seed": opts.seed,
                "est_hours": round(sum(i.est_seconds for i in items) / 3600, 2),
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    results: dict[str, list[dict[str, str]]] = {}
    failed: list[str] = []
    t0 = time.monotonic()

    def _done(item_id: str, rows: list[dict[str, str]], err: str) -> None:
        results[item_id] = rows
        if err:
            failed.append(item_id)
        if progress:
            progress(len(results), len(items), item_id)

    # Longest first keeps the pool busy; copy-synthesis interleaves with cheap items.
    todo = sorted(items, key=lambda it: -it.est_seconds)
    if opts.workers == 1:
        keep_freed_memory()
        for it in todo:
            _done(*_render_item(it, str(out), opts.seed))
    else:
        with ProcessPoolExecutor(
            max_workers=opts.workers, initializer=_one_thread_per_worker
        ) as pool:
            pending = set()
            queue = iter(todo)
            for it in queue:
                pending.add(pool.submit(_render_item, it, str(out), opts.seed))
                if len(pending) >= 4 * opts.workers:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in finished:
                        _done(*f.result())
            for f in pending:
                _done(*f.result())
    logger.info(
        "rendered %d items in %.0f s (%d failed)", len(items), time.monotonic() - t0, len(failed)
    )
    # ``item`` names the rendered item of a row (an item may be cut into several rows);
    # ``parent`` the bona fide item a transform (copy-synthesis, vocoder, codec) started
    # from, so training can pair a vocoded copy with its source (``pair_copies``).
    # Added here from the plan, not stored in the item records, so a resumed build of an
    # older output gains both columns.
    rows = [
        {**r, "item": it.item_id, "parent": _parent_of(it)}
        for it in items
        for r in results.get(it.item_id, [])
    ]
    manifest = out / "manifest.csv"
    tmp = out / ".manifest.csv.tmp"
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(MANIFEST_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, manifest)
    summary = write_protocols(rows, out, columns=MANIFEST_COLUMNS)
    summary["failed_items"] = len(failed)
    summary["skipped_sources"] = skipped
    (out / "protocols" / "summary.json").write_text(
        json.dumps(summary, indent=2) + "\n", encoding="utf-8"
    )
    return BuildResult(manifest, rows, summary, failed, skipped)
