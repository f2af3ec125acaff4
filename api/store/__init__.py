"""Audit store (SQLAlchemy 2 + Alembic): SQLite (WAL) by default, PostgreSQL by URL."""

from .store import DECISION_COLUMNS, Store, decision_dict, job_dict

__all__ = ["DECISION_COLUMNS", "Store", "decision_dict", "job_dict"]
