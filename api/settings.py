"""Service settings, read from ``AUDIO_DETECT_*`` environment variables (and ``.env``).

Every field is documented in ``docs/api.md``; the table there is generated from this
class's field descriptions (see ``tests/api/test_docs.py``), so keep them in sync.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from audio_detect.constants import STREAM_MAX_SECONDS

__all__ = ["Settings"]

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class Settings(BaseSettings):
    """Configuration of the screening service."""

    model_config = SettingsConfigDict(
        env_prefix="AUDIO_DETECT_", env_file=".env", extra="ignore", protected_namespaces=()
    )

    # -- model and storage --------------------------------------------------------------
    model: str | None = Field(
        None, description="Model name (in the models directory) or path; unset = the default."
    )
    models_dir: Path | None = Field(
        None, description="Models directory; unset = the repository's `models/`."
    )
    data_dir: Path = Field(Path("var"), description="Directory for the embedded SQLite database.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the audit store, e.g. "
        "`postgresql+psycopg://user:pw@host/db`; unset = SQLite `<data_dir>/audio-detect.db`.",
    )
    store_audio: bool = Field(
        False, description="Keep the raw audio of each decision (opt-in; see retention)."
    )
    audio_retention_days: float = Field(
        7.0, gt=0, description="Stored audio is purged after this many days."
    )

    # -- access control -----------------------------------------------------------------
    dev_mode: bool = Field(
        False, description="No API keys; only loopback clients are served. Never in production."
    )
    rate_limit_per_minute: int = Field(
        120, ge=1, description="Default per-key request rate (token bucket), per minute."
    )
    rate_limit_burst: int | None = Field(
        None, ge=1, description="Bucket size; unset = one minute's worth of requests."
    )
    metrics_public: bool = Field(
        False, description="Serve `/metrics` without an API key (for a private scrape network)."
    )

    # -- limits -------------------------------------------------------------------------
    max_upload_bytes: int = Field(
        50 * 2**20, ge=1024, description="Largest request body, enforced while it streams in."
    )
    max_audio_seconds: float = Field(
        1800.0, gt=0, description="Longest recording accepted by `/v1/analyze`."
    )
    request_timeout_seconds: float = Field(
        60.0, gt=0, description="Time limit for reading a body and for scoring one request."
    )
    max_concurrent_scoring: int = Field(
        2, ge=1, description="Scoring threads (CPU-bound work); about the number of cores."
    )
    max_queued_scoring: int = Field(
        8, ge=0, description="Requests allowed to wait for a scoring thread; more get 503."
    )
    max_jobs: int = Field(
        32, ge=1, description="Asynchronous jobs queued or running at once; more get 503."
    )
    max_streams: int = Field(
        16, ge=1, description="Concurrent WebSocket streams (`/v1/stream` + `/v1/twilio`)."
    )
    stream_max_seconds: float = Field(
        STREAM_MAX_SECONDS,
        gt=0,
        description="Longest live stream scored; the final verdict is sent then.",
    )
    stream_interval_seconds: float = Field(
        3.0, ge=0.5, description="Audio between two rolling verdicts (after the first)."
    )
    stream_interval_growth: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Rolling interval is at least this fraction of the call so far.",
    )
    stream_first_verdict_speech_seconds: float = Field(
        2.0, gt=0, description="Speech needed before the first rolling verdict."
    )
    stream_idle_timeout_seconds: float = Field(
        30.0, gt=0, description="A stream with no message for this long is finalised and closed."
    )
    stream_scoring: Literal["frozen", "exact"] = Field(
        "frozen",
        description="`frozen`: each complete window scored once (bounded work per update); "
        "`exact`: every verdict rescores the prefix (bit-identical to offline, more CPU).",
    )
    stream_max_lag_seconds: float = Field(
        2.0,
        gt=0,
        description="A stream whose unscored audio is older than this gets a `degraded` event.",
    )
    stream_admit_max_degraded_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="A new live stream is refused (503 `overloaded`, WebSocket close 1013) "
        "while more than this share of the open live calls is `degraded` (scoring behind): a "
        "worker at capacity turns new calls away instead of making every call late. "
        "0 = refuse while any call is degraded; 1 = always admit (up to `max_streams`).",
    )
    stream_admit_max_utilisation: float = Field(
        0.6,
        ge=0,
        le=1,
        description="A new live stream is refused (503 `overloaded`, close 1013) when the "
        "open calls plus one would fill more than this share of the scoring threads or of the "
        "event loop, by the measured cost of live audio here (seconds per second of call "
        "audio, `api/capacity.py`): a burst of call starts is turned away before it makes every "
        "call late. 0 = off (admit up to `max_streams`).",
    )
    twilio_reorder_window: int = Field(
        10, ge=1, le=500, description="Twilio media chunks held to reorder out-of-order packets."
    )

    # -- callbacks and webhooks ---------------------------------------------------------
    webhook_url: str | None = Field(
        None, description="Where live-call (Twilio) verdicts are POSTed; unset = none."
    )
    webhook_events: Literal["final", "all"] = Field(
        "final", description="`final`: only the call's final verdict; `all`: every verdict."
    )
    webhook_secret: str | None = Field(
        None,
        description="HMAC-SHA256 key signing webhook/callback bodies "
        "(`X-Audio-Detect-Signature: sha256=<hex>`).",
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, description="Timeout of one webhook/callback delivery attempt."
    )
    webhook_retries: int = Field(
        3, ge=1, le=10, description="Delivery attempts per webhook/callback."
    )
    callback_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts job `callback_url`s may target (comma-separated or JSON list); "
        "empty = any.",
    )

    # -- shared state (several processes or hosts) ---------------------------------------
    redis_url: str | None = Field(
        None,
        description="Redis for per-key rate limits and the async-job queue shared by all "
        "workers and hosts (`redis://host:6379/0`); unset = in-process (one worker).",
    )

    redis_prefix: str = Field(
        "audio-detect:",
        min_length=1,
        max_length=100,
        description="Prefix of every Redis key (one Redis can serve several deployments).",
    )

    # -- server -------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Bind address of `audio-detect serve`.")
    port: int = Field(8000, ge=1, le=65535, description="Port of `audio-detect serve`.")
    log_level: str = Field("info", description="Log level of the service.")
    ws_compression: bool = Field(
        False,
        description="Offer permessage-deflate on WebSockets. Off: 20 ms audio frames barely "
        "compress and deflating each one costs server and client CPU per call.",
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes `audio-detect serve` starts (one model copy each); more than "
        "one needs `REDIS_URL` for shared limits and jobs.",
    )

    @field_validator("callback_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                value = json.loads(value)
            else:
                return [h.strip().lower() for h in value.split(",") if h.strip()]
        if isinstance(value, list):
            return [str(h).strip().lower() for h in value]
        return value

    @property
    def resolved_database_url(self) -> str:
        """The audit-store URL (SQLite under ``data_dir`` unless ``database_url`` is set)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'audio-detect.db').as_posix()}"

    @property
    def burst(self) -> int:
        """Token-bucket capacity."""
        return self.rate_limit_burst or self.rate_limit_per_minute
