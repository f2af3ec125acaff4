"""Asynchronous analyses (``Prefer: respond-async``): a job row, a background task, a callback.

:class:`JobRunner` (one process, the default) runs jobs in this process (asyncio tasks
feeding the shared scoring pool); jobs still queued or running when the process stops
are marked ``failed`` (code ``interrupted``) at the next start.
:class:`RedisJobRunner` (``AUDIO_DETECT_REDIS_URL``) queues each job in Redis and every
process takes jobs from that queue, so a job submitted to one worker may run on another
and queued jobs survive a restart. Either way the job's state lives in the audit store,
so ``GET /v1/jobs/{id}`` works from any worker sharing the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from fastapi.concurrency import run_in_threadpool

from audio_detect.exceptions import AudioDetectError

from .errors import ApiError, status_for
from .redis_state import KEY_PREFIX, connect, unavailable
from .schemas import AnalyzeParams
from .security import Principal
from .services import AnalysisInput, Services
from .webhooks import check_callback_url

__all__ = ["JobRunner", "RedisJobRunner", "job_view"]

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


#: Redis keys of the job queue (after the prefix): a list of job ids, and one hash per
#: queued job's input.
_QUEUE = "jobs:queue"
_INPUT = "jobs:input:"
#: A queued input nobody took within this long expires (its row stays ``queued``).
_INPUT_TTL_SECONDS = 24 * 3600


def _principal_dict(principal: Principal) -> dict[str, Any]:
    return {
        "key_id": principal.key_id,
        "name": principal.name,
        "scopes": sorted(principal.scopes),
        "rate_limit_per_minute": principal.rate_limit_per_minute,
    }


class RedisJobRunner(JobRunner):
    """Jobs queued in Redis and run by any process of the deployment.

    ``submit`` writes the job row (audit store), the upload and its parameters (a Redis
    hash, expiring after a day) and pushes the id on the queue; each process runs
    ``consumers`` tasks that pop ids (``BLPOP``) and score them in this process's pool.
    The queue is bounded by ``max_jobs`` across the deployment.
    """

    def __init__(
        self, services: Services, url: str, *, consumers: int, prefix: str = KEY_PREFIX
    ) -> None:
        super().__init__(services)
        self._queue = prefix + _QUEUE
        self._input = prefix + _INPUT
        self._redis = connect(url, asyncio=True)
        self._consumers: list[asyncio.Task[None]] = []
        self._n_consumers = max(1, consumers)

    async def start(self) -> None:
        """Check Redis and start the consumers (in the lifespan)."""
        await self._redis.ping()
        loop = asyncio.get_running_loop()
        self._consumers = [loop.create_task(self._consume()) for _ in range(self._n_consumers)]

    async def submit(
        self, item: AnalysisInput, *, principal: Principal, request_id: str | None
    ) -> str:
        """Queue a job in Redis; return its id (503 when the shared queue is full)."""
        s = self.services
        try:
            queued = await self._redis.llen(self._queue)
        except Exception as exc:
            raise unavailable(exc) from exc
        job_id = await self._create(
            item, principal=principal, request_id=request_id, pending=queued
        )
        fields = {
            "data": item.data,
            "content_type": item.content_type,
            "params": item.params.model_copy(update={"metadata": None}).model_dump_json(),
            "client": json.dumps(item.client),
            "principal": json.dumps(_principal_dict(principal)),
            "request_id": request_id or "",
        }
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(self._input + job_id, mapping=fields)
                pipe.expire(self._input + job_id, _INPUT_TTL_SECONDS)
                pipe.rpush(self._queue, job_id)
                await pipe.execute()
        except Exception as exc:
            await run_in_threadpool(
                s.store.update_job, job_id, status="failed",
                error={"code": "shared_state_unavailable", "message": "Could not queue the job.",
                       "request_id": request_id},
            )  # fmt: skip
            raise unavailable(exc) from exc
        return job_id

    async def _consume(self) -> None:
        while True:
            try:
                popped = await self._redis.blpop([self._queue], timeout=1)
                if popped is None:
                    continue
                job_id = popped[1].decode()
                raw = await self._redis.hgetall(self._input + job_id)
                await self._redis.delete(self._input + job_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: retry shortly, do not spin
                logger.warning("job queue: %r", exc)
                await asyncio.sleep(1.0)
                continue
            if not raw:
                logger.warning("job %s: input expired before it was taken", job_id)
                continue
            try:
                item, principal, request_id = self._decode(raw)
            except Exception:
                logger.exception("job %s: unreadable queue entry", job_id)
                continue
            task = asyncio.get_running_loop().create_task(
                self._run(job_id, item, principal=principal, request_id=request_id)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            await asyncio.wait({task})  # one job at a time per consumer: the back-pressure

    def _decode(self, raw: dict[bytes, bytes]) -> tuple[AnalysisInput, Principal, str | None]:
        params = AnalyzeParams.model_validate_json(raw[b"params"])
        client = json.loads(raw[b"client"])
        p = json.loads(raw[b"principal"])
        principal = Principal(
            key_id=p["key_id"], name=p["name"], scopes=frozenset(p["scopes"]),
            rate_limit_per_minute=p["rate_limit_per_minute"],
        )  # fmt: skip
        item = self.services.prepare(raw[b"data"], raw[b"content_type"].decode(), params, client)
        return item, principal, raw[b"request_id"].decode() or None

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop taking jobs, let running ones finish for up to ``timeout`` seconds."""
        for task in self._consumers:
            task.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        await super().shutdown(timeout)
        await self._redis.aclose()
