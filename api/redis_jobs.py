"""The job queue shared by every process and host: :class:`RedisJobRunner`.

A reliable queue (the Redis "BLMOVE into a processing list" pattern) with worker leases:

* ``submit`` writes the job row (audit store) and the job's input (a Redis hash expiring
  after a day) and pushes the job id on ``jobs:queue``;
* a consumer *moves* an id from the queue to its worker's ``jobs:processing:<worker>`` list
  (atomically: the id is never held only in a process's memory), runs the job, then
  removes the id and the input;
* every worker keeps a lease, ``jobs:alive:<worker>``, expiring after ``lease_seconds`` and
  renewed every third of that. Each worker also reaps: a registered worker whose lease has
  expired (the process was killed, the host died) has the ids of its processing list put
  back at the head of the queue, and their rows return to ``queued``. A job is run at most
  ``max_attempts`` times; after that its row is ``failed`` with code ``interrupted``.
  A job whose row is already finished when it is taken again (the worker died after
  recording the result) is not run twice.

On a graceful stop a worker puts the jobs it could not finish back on the queue itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from fastapi.concurrency import run_in_threadpool

from .jobs import JobRunner
from .redis_state import KEY_PREFIX, connect, unavailable
from .schemas import AnalyzeParams
from .security import Principal
from .services import AnalysisInput, Services

__all__ = ["RedisJobRunner"]

logger = logging.getLogger(__name__)

#: Redis keys (after the prefix): the queue of job ids, one hash per job's input, the set
#: of registered workers, each worker's lease and each worker's list of taken jobs.
_QUEUE = "jobs:queue"
_INPUT = "jobs:input:"
_WORKERS = "jobs:workers"
_ALIVE = "jobs:alive:"
_PROCESSING = "jobs:processing:"
#: An input nobody took within this long expires (its row stays ``queued``).
_INPUT_TTL_SECONDS = 24 * 3600
_FINISHED = ("done", "failed")


def _principal_dict(principal: Principal) -> dict[str, Any]:
    return {
        "key_id": principal.key_id,
        "name": principal.name,
        "scopes": sorted(principal.scopes),
        "rate_limit_per_minute": principal.rate_limit_per_minute,
    }


class RedisJobRunner(JobRunner):
    """Jobs queued in Redis and run by any process of the deployment.

    Parameters
    ----------
    services : Services
        This process's services (scoring pool, audit store).
    url : str
        Redis URL.
    consumers : int
        Jobs this process runs at once (one consumer task each).
    prefix : str
        Prefix of every Redis key.
    lease_seconds : float
        A worker silent for this long is dead and its jobs are re-queued.
    max_attempts : int
        Times a job may be taken before an interruption fails it.
    """

    def __init__(
        self,
        services: Services,
        url: str,
        *,
        consumers: int,
        prefix: str = KEY_PREFIX,
        lease_seconds: float = 15.0,
        max_attempts: int = 2,
    ) -> None:
        super().__init__(services)
        self.worker_id = uuid.uuid4().hex
        self.lease_seconds = float(lease_seconds)
        self.max_attempts = int(max_attempts)
        self._prefix = prefix
        self._queue = prefix + _QUEUE
        self._input = prefix + _INPUT
        self._processing = prefix + _PROCESSING + self.worker_id
        self._redis = connect(url, asyncio=True)
        self._consumers: list[asyncio.Task[None]] = []
        self._n_consumers = max(1, consumers)

    async def start(self) -> None:
        """Check Redis, register this worker, reap dead ones, start the consumers."""
        await self._redis.ping()
        await self._renew_lease()
        await self.reap()
        loop = asyncio.get_running_loop()
        self._consumers = [loop.create_task(self._consume()) for _ in range(self._n_consumers)]
        self._consumers.append(loop.create_task(self._keep_lease()))

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
            "attempts": 0,
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

    # -- leases ---------------------------------------------------------------------------

    async def _renew_lease(self) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self._prefix + _WORKERS, self.worker_id)
            pipe.set(self._prefix + _ALIVE + self.worker_id, 1, px=int(1000 * self.lease_seconds))
            await pipe.execute()

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self._renew_lease()
                await self.reap()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the next round retries
                logger.warning("job queue lease: %r", exc)

    async def reap(self) -> int:
        """Re-queue the jobs of every registered worker whose lease expired; return how many."""
        n = 0
        for raw in await self._redis.smembers(self._prefix + _WORKERS):
            worker = raw.decode()
            if worker == self.worker_id or await self._redis.exists(self._prefix + _ALIVE + worker):
                continue
            moved = await self._requeue(self._prefix + _PROCESSING + worker)
            await self._redis.srem(self._prefix + _WORKERS, worker)
            if moved:
                logger.warning("worker %s stopped; re-queued its job(s) %s", worker, moved)
            n += len(moved)
        return n

    async def _requeue(self, processing: str) -> list[str]:
        """Move every id of ``processing`` back to the head of the queue (rows: ``queued``)."""
        moved: list[str] = []
        while True:
            job = await self._redis.lmove(processing, self._queue, "RIGHT", "LEFT")
            if job is None:
                return moved
            job_id = job.decode()
            moved.append(job_id)
            await run_in_threadpool(self._mark_queued, job_id)

    def _mark_queued(self, job_id: str) -> None:
        store = self.services.store
        row = store.get_job(job_id)
        if row is not None and row["status"] not in _FINISHED:
            store.update_job(job_id, status="queued")

    # -- consuming ------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            try:
                job = await self._redis.blmove(self._queue, self._processing, 1, "LEFT", "RIGHT")
                if job is None:
                    continue
                job_id = job.decode()
                raw = await self._redis.hgetall(self._input + job_id)
                attempts = (
                    await self._redis.hincrby(self._input + job_id, "attempts", 1) if raw else 0
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: retry shortly, do not spin
                logger.warning("job queue: %r", exc)
                await asyncio.sleep(1.0)
                continue
            try:
                await self._take(job_id, raw, attempts)
            finally:
                if not asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    await self._finish(job_id)

    async def _take(self, job_id: str, raw: dict[bytes, bytes], attempts: int) -> None:
        """Run one taken job unless it is gone, finished, or out of attempts."""
        store = self.services.store
        if not raw:
            logger.warning("job %s: input expired before it was taken", job_id)
            return
        row = await run_in_threadpool(store.get_job, job_id)
        if row is not None and row["status"] in _FINISHED:
            return  # its worker died after recording the result
        if attempts > self.max_attempts:
            logger.error("job %s: interrupted %d times; failed", job_id, attempts - 1)
            await run_in_threadpool(
                store.update_job, job_id, status="failed",
                error={"code": "interrupted",
                       "message": "The workers running this job stopped before it finished.",
                       "request_id": raw.get(b"request_id", b"").decode() or None},
            )  # fmt: skip
            return
        try:
            item, principal, request_id = self._decode(raw)
        except Exception:
            logger.exception("job %s: unreadable queue entry", job_id)
            return
        task = asyncio.get_running_loop().create_task(
            self._run(job_id, item, principal=principal, request_id=request_id)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.wait({task})  # one job at a time per consumer: the back-pressure

    async def _finish(self, job_id: str) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.lrem(self._processing, 0, job_id)
                pipe.delete(self._input + job_id)
                await pipe.execute()
        except Exception as exc:  # the lease expires and a reaper finds the row finished
            logger.warning("job %s: could not clear it from the queue: %r", job_id, exc)

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
        """Stop taking jobs, let running ones finish for up to ``timeout`` seconds, put the
        rest back on the queue and leave the worker set."""
        for task in self._consumers:
            task.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        await super().shutdown(timeout)
        try:
            moved = await self._requeue(self._processing)
            if moved:
                logger.info("stopping: re-queued unfinished job(s) %s", moved)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.srem(self._prefix + _WORKERS, self.worker_id)
                pipe.delete(self._prefix + _ALIVE + self.worker_id)
                await pipe.execute()
        except Exception as exc:  # the lease expires and another worker re-queues them
            logger.warning("stopping: could not hand back jobs: %r", exc)
        await self._redis.aclose()
