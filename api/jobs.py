"""Asynchronous analyses (``Prefer: respond-async``): a job row, a background task, a callback.

:class:`JobRunner` (one process, the default) runs jobs in this process (asyncio tasks
feeding the shared scoring pool); jobs still queued or running when the process stops
are marked ``failed`` (code ``interrupted``) at the next start.
:class:`~audio_detect_service.redis_jobs.RedisJobRunner` (``AUDIO_DETECT_REDIS_URL``)
queues each job in Redis and every process takes jobs from that queue, so a job submitted
to one worker may run on another, and queued jobs, or jobs a dead worker had taken, survive.
Either way the job's state lives in the audit store, so ``GET /v1/jobs/{id}`` works from
any worker sharing the database.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from fastapi.concurrency import run_in_threadpool

from audio_detect.exceptions import AudioDetectError

from .errors import ApiError, status_for
from .security import Principal
from .services import AnalysisInput, Services
from .webhooks import check_callback_url

__all__ = ["JobRunner", "job_view"]

logger = logging.getLogger(__name__)

#: Scoring time limit of one job (queueing included), in units of the request limit.
_JOB_TIMEOUT_FACTOR = 10.0


def job_view(row: dict[str, Any]) -> dict[str, Any]:
    """A job row as the ``JobOut`` body."""
    return {
        "job_id": row["id"],
        "status": row["status"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "call_id": row["call_id"],
        "callback_url": row["callback_url"],
        "callback_status": row["callback_status"],
        "result": row["result"],
        "error": row["error"],
    }


class JobRunner:
    """Runs analysis jobs in the background, at most ``settings.max_jobs`` at once."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Jobs queued or running in this process."""
        return len(self._tasks)

    async def submit(
        self, item: AnalysisInput, *, principal: Principal, request_id: str | None
    ) -> str:
        """Create a job and start it; return its id (503 when too many are pending)."""
        job_id = await self._create(
            item, principal=principal, request_id=request_id, pending=self.pending
        )
        task = asyncio.get_running_loop().create_task(
            self._run(job_id, item, principal=principal, request_id=request_id)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job_id

    async def _create(
        self,
        item: AnalysisInput,
        *,
        principal: Principal,
        request_id: str | None,
        pending: int,
    ) -> str:
        """Admit a job (503 when ``pending`` jobs fill the limit), check its callback URL and
        record it as pending in the audit store; return its id."""
        s = self.services
        if pending >= s.settings.max_jobs:
            s.metrics.rejected.labels("jobs_full").inc()
            raise ApiError(503, "overloaded", "Too many analysis jobs pending.", retry_after=5)
        callback = item.params.callback_url
        if callback:
            check_callback_url(callback, s.settings.callback_allowed_hosts)
        job_id = uuid.uuid4().hex
        await run_in_threadpool(
            s.store.add_job, job_id, api_key_id=principal.key_id, request_id=request_id,
            call_id=item.params.call_id, callback_url=callback,
            callback_status="pending" if callback else None,
        )  # fmt: skip
        return job_id

    async def _run(
        self, job_id: str, item: AnalysisInput, *, principal: Principal, request_id: str | None
    ) -> None:
        s = self.services
        store = s.store
        try:
            await run_in_threadpool(store.update_job, job_id, status="running")
            result = await s.analyze(
                item, principal=principal, request_id=request_id, kind="job",
                timeout=s.settings.request_timeout_seconds * _JOB_TIMEOUT_FACTOR, shed=False,
            )  # fmt: skip
            update: dict[str, Any] = {
                "status": "done",
                "result": result,
                "decision_id": result["decision_id"],
            }
        except ApiError as exc:
            update = {"status": "failed", "error": {"code": exc.code, "message": exc.message}}
        except AudioDetectError as exc:
            if status_for(exc) >= 500:
                logger.error("job %s: %s", job_id, exc)
            update = {"status": "failed", "error": {"code": exc.code, "message": str(exc)}}
        except Exception:
            logger.exception("job %s crashed", job_id)
            update = {
                "status": "failed",
                "error": {"code": "internal_error", "message": "Internal server error."},
            }
        if update["status"] == "failed":
            update["error"]["request_id"] = request_id
        await run_in_threadpool(store.update_job, job_id, **update)
        url = item.params.callback_url
        if url:
            row = await run_in_threadpool(store.get_job, job_id)
            ok = await s.webhooks.deliver(url, "job.completed", job_view(row or {}))
            await run_in_threadpool(
                store.update_job, job_id, callback_status="delivered" if ok else "failed"
            )

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Let running jobs finish for up to ``timeout`` seconds, then cancel them."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
