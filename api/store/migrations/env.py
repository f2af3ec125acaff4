"""Alembic environment of the audit store.

Run by :func:`audio_detect_service.store.migrate.upgrade` with an open connection in
``config.attributes["connection"]``; with plain ``alembic -x url=...`` it builds an
engine from that URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from audio_detect_service.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
