"""Initial audit store: api_keys, decisions, audio_blobs, jobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from audio_detect_service.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("call_id", sa.String(128), nullable=True),
        sa.Column("api_key_id", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("audio_sha256", sa.String(64), nullable=True),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("speech_seconds", sa.Float, nullable=False),
        sa.Column("codec", sa.String(64), nullable=True),
        sa.Column("container", sa.String(64), nullable=True),
        sa.Column("sample_rate", sa.Integer, nullable=True),
        sa.Column("channels", sa.Integer, nullable=True),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("p_spoof", sa.Float, nullable=True),
        sa.Column("llr", sa.Float, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("prior", sa.Float, nullable=False),
        sa.Column("thresholds", sa.JSON, nullable=False),
        sa.Column("timeline", sa.JSON, nullable=False),
        sa.Column("client", sa.JSON, nullable=False),
        sa.Column("processing_ms", sa.Float, nullable=False),
        sa.Column("audio_stored", sa.Boolean, nullable=False),
    )
    for col in ("request_id", "call_id", "api_key_id", "created_at", "audio_sha256", "verdict"):
        op.create_index(f"ix_decisions_{col}", "decisions", [col])
    op.create_table(
        "audio_blobs",
        sa.Column(
            "decision_id",
            sa.String(36),
            sa.ForeignKey("decisions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_audio_blobs_expires_at", "audio_blobs", ["expires_at"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("api_key_id", sa.String(32), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("call_id", sa.String(128), nullable=True),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("callback_status", sa.String(16), nullable=True),
        sa.Column("decision_id", sa.String(36), nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
    )
    op.create_index("ix_jobs_status", "jobs", ["status"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_index("ix_audio_blobs_expires_at", "audio_blobs")
    op.drop_table("audio_blobs")
    for col in ("request_id", "call_id", "api_key_id", "created_at", "audio_sha256", "verdict"):
        op.drop_index(f"ix_decisions_{col}", "decisions")
    op.drop_table("decisions")
    op.drop_table("api_keys")
