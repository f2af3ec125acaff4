"""Rolling verdicts on a live call, with the offline scoring rule.

Two scoring modes (``StreamingScorer(scoring=...)``):

``frozen`` (the default, used by the service)
    Speech decisions are frozen behind a short trailing context
    (``freeze_context_seconds``, 1 s): each check finds the speech of the last
    ``vad_lookback_seconds`` (10 s) of frozen audio plus the unfrozen tail only, appends
    the newly frozen speech to the call's speech stream, and scores each window of that
    stream **once**, when all its samples are frozen. Windows are cut with the offline
    rule (``spec.window``: a window every hop over the concatenated speech, an end-aligned
    last window, one short window for a call with less than a window of speech); the
    score, calibration and tier come from the same ``ScoringPipeline.decide``. Work per
    update and memory are bounded, so the interval does not grow with the call: a call
    holds about one window plus one interval of speech and the last 5 s of audio, in
    buffers allocated once and kept as int16 when the input is PCM16, µ-law or A-law at
    the model rate (200 kB per call with ``whisper-cm-8k``; scripts/stream_memory.py).
    Until the first window is complete a rolling verdict scores one provisional window
    over the speech heard so far (the first verdict comes after
    ``first_verdict_speech_seconds`` of speech).
    The VAD is incremental (:class:`~audio_detect.audio.vad_stream.IncrementalVad`, with
    the pipeline's ``vad`` settings): each frame is high-passed, levelled and classified
    by WebRTC once, as it arrives, and a check only recomputes the noise-floor gate and
    the smoothing over the look-back, so a check costs the same late in a call as early.
    Agreement with offline scoring is a stated bound, not bit-equality: the final LLR
    is within 0.5 of ``Detector.score_file`` (``audio-detect score``) on the same audio
    with the same verdict (``tests/streaming/test_streaming.py``; measured on 30-60 s calls: 0 to
    0.066 with the test GMM; with ``whisper-cm-8k`` 2.0.0, whose int8 graph quantizes
    activations per batch so that a window's score depends on the windows batched with
    it, up to 0.12 before the incremental VAD, most of it that batching effect:
    docs/api.md). Rolling verdicts
    cover the complete windows, not the offline score of the prefix.

``exact``
    The behaviour described below: every verdict rescores the whole prefix with the
    offline pipeline (window scores cached).

:class:`StreamingScorer` takes audio in chunks of any size (PCM16, G.711 µ-law or
A-law bytes, or float arrays), brings it to the model rate with the same soxr
resampler the file loader uses, and now and then scores **everything received so
far** with exactly the offline pipeline, the very object offline scoring uses
(``detector.pipeline``, a :class:`~audio_detect.scoring.ScoringPipeline`): its VAD on
the whole prefix, its windows and its aggregation and calibration, this stream's cache
of window scores passed as the backend of each call. A rolling verdict is therefore the offline
verdict of the audio received up to that moment, and the final verdict is the
offline verdict of the whole call.

What makes this affordable is a cache of raw window scores keyed by the recording
samples each window covers: the buffer only grows, so a window whose samples did not
change is never scored twice, and each update scores only the windows it has not
seen: the new ones, and those cut differently because a speech region before them
moved (region edges move by a VAD frame as the noise floor changes, so a call scores
4 to 7 times the windows of its final verdict; measured on 30-300 s calls). The VAD
runs on the whole prefix at each update (its noise floor is a percentile over the
whole signal, so it cannot be made incremental without changing its answers); its
cost grows with the call, so the update interval grows too:
``max(interval_seconds, interval_growth * audio_seconds)``.

Timing of verdicts
------------------
* Until the first verdict, a cheap probe runs the VAD on the last
  ``probe_context_seconds`` every ``probe_seconds`` of audio; as soon as it finds
  ``first_verdict_speech_seconds`` of speech (default 2 s, never less than the model's
  ``min_speech_seconds``) the full prefix is scored and the first verdict is issued.
* Afterwards a verdict is issued each time the audio has grown by the interval above.
* :meth:`StreamingScorer.finish` issues the final verdict on the whole call.

Tolerance
---------
With input at the model rate (8 kHz µ-law into an 8 kHz model, the telephone case)
the final verdict is bit-identical to ``Detector.score_file`` on the same bytes, and a
rolling verdict is bit-identical to ``Detector.score_samples`` on the prefix. With
resampling (e.g. 16 kHz PCM into an 8 kHz model) the chunked resampler can differ
from the file loader's by float rounding; the test suite asserts ``|ΔLLR| <= 1e-4``
and ``|ΔP(spoof)| <= 1e-4`` and the same verdict and tier.

Modules
-------
:mod:`.scorer`
    :class:`StreamingScorer` (input, resampling, the verdict schedule, the decisions of
    both modes) and :class:`StreamUpdate`.
:mod:`.frozen`
    ``frozen`` mode's incremental state: speech regions frozen behind the trailing
    context, the speech stream and the windows it completes, each scored once.
:mod:`.cache`
    Window scores a stream already has, served to ``ScoringPipeline.decide`` through its
    ``backend`` hook: ``exact`` mode's cache keyed by sample span, ``frozen`` mode's
    list of kept scores, and the index windows that address both.
"""

from .scorer import STREAM_ENCODINGS, STREAM_SCORING_MODES, StreamingScorer, StreamUpdate

__all__ = ["STREAM_ENCODINGS", "STREAM_SCORING_MODES", "StreamUpdate", "StreamingScorer"]
