"""Request and response models (pydantic) and the one error shape."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from audio_detect.constants import MAX_INPUT_RATE, MIN_INPUT_RATE

__all__ = [
    "AnalyzeParams",
    "AnalyzeResponse",
    "CallOut",
    "DecisionOut",
    "DecisionPage",
    "ErrorResponse",
    "Health",
    "JobAccepted",
    "JobOut",
    "ModelDetail",
    "ModelSummary",
    "Ready",
]


class ErrorDetail(BaseModel):
    """What went wrong; ``code`` is stable, ``message`` is for humans."""

    code: str = Field(examples=["audio_decode_error"])
    message: str
    request_id: str | None = None
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """The one error shape of the service."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": desc}
    for status, desc in (
        (401, "Missing or invalid API key"),
        (403, "Key lacks the scope, or dev mode refused a non-local client"),
        (413, "Body or audio too large/long"),
        (415, "Unsupported media type or audio format"),
        (422, "Undecodable audio or invalid parameters"),
        (429, "Rate limited (see Retry-After)"),
        (503, "Overloaded or not ready (see Retry-After)"),
    )
}


class AnalyzeParams(BaseModel):
    """Parameters of ``POST /v1/analyze`` (query string, or form fields in multipart)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    call_id: str | None = Field(
        None, max_length=128, pattern=r"^[\w.:@+-]+$",
        description="Your call/recording id; links decisions in the audit trail.",
    )  # fmt: skip
    channel: str = Field(
        "mix", pattern=r"^(mix|[0-9]{1,3})$",
        description="`mix`, or the 0-based channel of the caller in a multi-channel file.",
    )  # fmt: skip
    prior: float | None = Field(
        None, gt=0, lt=1, description="P(spoof) prior for the posterior (default: the model's)."
    )
    threshold_medium: float | None = Field(
        None, ge=-1e6, le=1e6, description="LLR threshold of the `medium` tier."
    )
    threshold_high: float | None = Field(
        None, ge=-1e6, le=1e6, description="LLR threshold of the `high` tier."
    )
    encoding: Literal["pcm_s16le", "mulaw", "alaw"] | None = Field(
        None, description="Headerless input: its encoding (needs `sample_rate`)."
    )
    sample_rate: int | None = Field(
        None,
        ge=MIN_INPUT_RATE,
        le=MAX_INPUT_RATE,
        description="Headerless input: its sample rate in Hz.",
    )
    channels: int = Field(1, ge=1, le=8, description="Headerless input: interleaved channels.")
    async_: bool = Field(
        False, alias="async",
        description="Return 202 with a job id instead of waiting (same as "
        "`Prefer: respond-async`).",
    )  # fmt: skip
    callback_url: str | None = Field(
        None, max_length=2000, pattern=r"^https?://[^\s/]+.*$",
        description="Async jobs: URL that receives the job result as a JSON POST.",
    )  # fmt: skip
    metadata: str | None = Field(
        None, max_length=4096, description="A JSON object stored with the decision."
    )
    timeline: bool = Field(True, description="Include the per-window timeline.")


class WindowOut(BaseModel):
    """Score of one window; ``start``/``end`` in seconds of the recording."""

    start: float
    end: float
    score: float
    llr: float
    p_spoof: float


class ModelRef(BaseModel):
    """The model that produced a decision."""

    name: str
    version: str
    sha256: str


class DecisionBody(BaseModel):
    """A verdict, as returned by analyze, jobs and streams."""

    verdict: Literal["bonafide", "spoof", "not_enough_speech"]
    tier: Literal["low", "medium", "high", "not_enough_speech"]
    p_spoof: float | None = Field(description="Posterior P(spoof) for `prior`.")
    llr: float | None = Field(description="Calibrated log-likelihood ratio (spoof over bona fide).")
    score: float | None = Field(description="Raw aggregated model score.")
    speech_seconds: float
    duration: float
    prior: float
    thresholds: dict[str, float]
    model: ModelRef
    audio: dict[str, Any] = Field(description="Codec, container, rates, duration of the input.")
    timeline: list[WindowOut] | None = None
    processing_ms: float


class AnalyzeResponse(DecisionBody):
    """Result of ``POST /v1/analyze``."""

    decision_id: str
    request_id: str | None
    call_id: str | None
    audio_sha256: str


class JobAccepted(BaseModel):
    """``202`` answer of an asynchronous analysis."""

    job_id: str
    status: Literal["queued"]
    href: str


class JobOut(BaseModel):
    """State of an asynchronous job."""

    job_id: str
    status: Literal["queued", "running", "done", "failed"]
    created_at: str
    updated_at: str
    call_id: str | None = None
    callback_url: str | None = None
    callback_status: str | None = None
    result: AnalyzeResponse | None = None
    error: ErrorDetail | None = None


class ModelSummary(BaseModel):
    """A model directory as listed by ``GET /v1/models``."""

    name: str
    version: str
    format: str
    sample_rate: int
    description: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict, description="Model-card numbers.")
    sha256: str | None = None
    loaded: bool = False
    default: bool = False


class ModelDetail(ModelSummary):
    """``GET /v1/models/{name}``: the manifest and the model card."""

    manifest: dict[str, Any]
    card: str | None = None


class DecisionOut(BaseModel):
    """A recorded decision (audit trail)."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: str
    created_at: str
    call_id: str | None = None
    request_id: str | None = None
    api_key_id: str | None = None
    verdict: str
    tier: str
    p_spoof: float | None = None
    llr: float | None = None


class DecisionPage(BaseModel):
    """A page of decisions; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[DecisionOut]
    next_cursor: str | None = None


class LiveStatus(BaseModel):
    """The rolling verdict of a call still streaming."""

    protocol: str
    stream_id: str
    started_at: str
    audio_seconds: float
    latest: dict[str, Any] | None = None
    degraded: bool = False


class CallOut(BaseModel):
    """Everything known about a call id."""

    call_id: str
    status: Literal["in_progress", "completed"]
    live: LiveStatus | None = None
    decisions: list[DecisionOut]


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"]
    pid: int | None = Field(None, description="Process id of the worker that answered.")


class Ready(BaseModel):
    """Readiness: the model is loaded and the store reachable."""

    status: Literal["ready"]
    model: ModelRef
    store: str
