"""Run the screening service as a real ``uvicorn`` process on loopback, for reliability work.

Used by the tests of ``tests/reliability`` and by the long-running commands of
``benchmarks/`` (load, soak, crash safety). The server always binds ``127.0.0.1`` on a
port the kernel picks (``--port 0``); nothing here talks to any other address.

Example::

    with LocalServer(model="models/lfcc-gmm-8k", workdir=tmp) as server:
        key = server.keys["analyze"]
        httpx.post(server.url + "/v1/analyze", content=data, headers=server.auth(key))
        print(server.peak_rss_mb())
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from audio_detect_service.settings import Settings

__all__ = ["LocalServer", "proc_status_kb"]

REPO = Path(__file__).resolve().parents[2]
_WS_COMPRESSION = Settings.model_fields["ws_compression"].default
_PORT_RE = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def proc_status_kb(pid: int, field: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``...), 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """A ``uvicorn --factory audio_detect_service.main:create_app`` child process on 127.0.0.1.

    Parameters
    ----------
    model : str or Path
        Model directory (or name in ``models_dir``).
    workdir : Path
        Scratch directory: the SQLite store (unless ``database_url``), the server log,
        and the child's working directory (so no stray ``.env`` is read).
    database_url : str, optional
        Audit store; default SQLite ``<workdir>/audit.db``.
    settings : dict, optional
        Extra ``AUDIO_DETECT_*`` settings (keys without the prefix, e.g.
        ``{"max_audio_seconds": 600}``).
    access_log : bool
        Keep uvicorn's access log (off for load tests).
    workers : int
        uvicorn worker processes (``--workers``); with more than one the server listens
        on a fixed free port and :meth:`start` waits until every worker answers.
    scopes : dict, optional
        Keys to create before start, ``name -> scopes``; default one ``analyze`` key,
        one ``read`` key and one ``both`` key. Full keys are in :attr:`keys`.
    """

    def __init__(
        self,
        model: str | Path,
        workdir: Path,
        *,
        database_url: str | None = None,
        settings: dict[str, Any] | None = None,
        scopes: dict[str, list[str]] | None = None,
        access_log: bool = False,
        workers: int = 1,
    ) -> None:
        self.model = str(Path(model).resolve()) if Path(model).is_dir() else str(model)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or f"sqlite:///{self.workdir / 'audit.db'}"
        self.settings = {"rate_limit_per_minute": 1_000_000, **(settings or {})}
        self.scopes = scopes or {
            "analyze": ["analyze"], "read": ["read"], "both": ["analyze", "read"],
        }  # fmt: skip
        self.keys: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path = self.workdir / "server.log"
        self.starts = 0
        self.access_log = access_log
        self.workers = workers

    # -- lifecycle ----------------------------------------------------------------------
    def create_keys(self) -> None:
        """Migrate the store and create the API keys (before the first start)."""
        from audio_detect_service.security import create_key
        from audio_detect_service.store import Store

        store = Store(self.database_url)
        try:
            store.migrate()
            for name, scopes in self.scopes.items():
                _, self.keys[name] = create_key(store, name=f"reliability-{name}", scopes=scopes)
        finally:
            store.close()

    def env(self) -> dict[str, str]:
        """The child's environment."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIO_DETECT_")}
        env.update(
            AUDIO_DETECT_MODEL=self.model,
            AUDIO_DETECT_DATABASE_URL=self.database_url,
            PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        )
        model_path = Path(self.model)
        if model_path.is_dir():
            env["AUDIO_DETECT_MODELS_DIR"] = str(model_path.resolve().parent)
        for key, value in self.settings.items():
            env[f"AUDIO_DETECT_{key.upper()}"] = str(value)
        return env

    def start(self, timeout: float = 120.0) -> None:
        """Start the child and wait until ``/readyz`` answers 200."""
        if not self.keys:
            self.create_keys()
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "audio_detect_service.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            "0" if self.workers == 1 else str(_free_port()),
            "--log-level",
            "info",
            "--ws-per-message-deflate",
            str(self.settings.get("ws_compression", _WS_COMPRESSION)).lower(),
        ]  # fmt: skip  (the port is announced at info level; deflate as `audio-detect serve`)
        if self.workers > 1:  # see api/cli/serve.py for the health-check timeout
            cmd += ["--workers", str(self.workers), "--timeout-worker-healthcheck", "60"]
        if not self.access_log:
            cmd.append("--no-access-log")
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child's lifetime
        self.proc = subprocess.Popen(
            cmd, cwd=self.workdir, env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            ports = _PORT_RE.findall(self.log())
            if len(ports) >= self.starts:
                port = ports[-1]
                break
            time.sleep(0.1)
        if port is None:
            self.stop()
            raise TimeoutError(f"server did not start within {timeout} s:\n{self.log()}")
        self.url = f"http://127.0.0.1:{port}"
        seen: set[int] = set()
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    if self.workers == 1:
                        return
                    seen.add(httpx.get(self.url + "/healthz", timeout=5).json().get("pid"))
                    if len(self.worker_pids()) >= self.workers and len(seen) >= self.workers:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"server not ready within {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """``kill -9`` the server (no shutdown, no flush)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop (SIGTERM), SIGKILL after ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- observation --------------------------------------------------------------------
    @property
    def pid(self) -> int:
        """The child's pid."""
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        """The server log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        """The processes that serve: the child, or its workers with ``workers > 1``."""
        if self.workers == 1:
            return [self.pid]
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children", encoding="ascii") as fh:
                kids = [int(x) for x in fh.read().split()]
        except OSError:
            return []
        # uvicorn's multiprocessing may start a resource tracker too: keep the big ones
        return [k for k in kids if proc_status_kb(k, "VmRSS") > 50 * 1024]

    def rss_mb(self) -> float:
        """Current resident memory of the server (the largest worker's with workers)."""
        return max((proc_status_kb(p, "VmRSS") for p in self.worker_pids()), default=0) / 1024

    def peak_rss_mb(self) -> float:
        """Peak resident memory since start (``VmHWM``; per worker, the largest)."""
        return max((proc_status_kb(p, "VmHWM") for p in self.worker_pids()), default=0) / 1024

    def open_fds(self) -> int:
        """Open file descriptors of the server."""
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return -1

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        """Bearer header for ``key``."""
        return {"Authorization": f"Bearer {key}"}
