"""Evaluation of detectors: metrics, scoring a protocol, model cards, fusion fitting.

Modules, lowest first (each may import those below it, never one above; see
``docs/architecture.md``):

:mod:`.det`
    The DET curve and the EER exactly as the official ASVspoof code (the shared core).
:mod:`.tdcf`
    Tandem t-DCF of a countermeasure with an ASV system (ASVspoof 2019 and 2021).
:mod:`.metrics`
    EER, minDCF/actDCF, Cllr, DET points, per-group breakdowns, :func:`~.metrics.summarize`.
:mod:`.evaluate`
    :func:`~.evaluate.evaluate_manifest`: score a manifest with a model through the
    serving pipeline, and :func:`~.evaluate.report` its metrics.
:mod:`.model_card`
    Model cards and ``manifest.json`` ``metrics`` written from those reports.
:mod:`.fusion`
    :func:`~.fusion.fit_fusion`: fit a logistic-regression fusion of models on a dev
    split. Serving a fused model is the library's (:class:`audio_detect.backends.FusionBackend`).

The package sits above :mod:`audio_detect.detector` and :mod:`audio_detect.scoring`:
it drives them, they never import it. Nothing is imported here, so
``import audio_detect.evaluation.metrics`` stays cheap.
"""
