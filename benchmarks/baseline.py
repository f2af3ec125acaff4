"""A baseline release measured in the same run: ``python -m benchmarks.run --baseline REF``.

Numbers from another day or machine cannot be compared, so the previous release (any git
ref: a commit, a branch, a tag) is checked out into a temporary worktree and each
benchmark is run twice in a row, once from that tree (its own code, its own committed
models, its own benchmark script) and once from this one. The baseline's results go to
``benchmarks/results/baseline/<name>.json`` (``.../quick/baseline/`` with ``--quick``) with
the ref and commit added; the README's target table then shows both and their ratio.

Both trees run in this checkout's virtual environment (the same dependencies), with the
baseline tree first on ``PYTHONPATH``. Releases before the service was installed as
``audio_detect_service`` (its source is ``api/``) get a link of that name in the worktree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import REPO

__all__ = ["COMPARED", "BaselineTree"]

#: Benchmarks whose figures the target table compares (the others are not re-run).
COMPARED = ("scoring_speed", "api_latency", "streams")


def _git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class BaselineTree:
    """A detached worktree of ``ref``; remove it with :meth:`close`."""

    ref: str
    sha: str
    date: str
    path: Path

    @classmethod
    def checkout(cls, ref: str) -> BaselineTree:
        """Check ``ref`` out into a fresh temporary worktree."""
        sha = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
        date = _git("show", "-s", "--format=%cI", sha)
        path = Path(tempfile.mkdtemp(prefix=f"audio-detect-baseline-{sha[:8]}-"))
        _git("worktree", "add", "--detach", "--force", str(path), sha)
        link = path / "audio_detect_service"
        if not link.exists() and (path / "api" / "__init__.py").is_file():
            link.symlink_to("api", target_is_directory=True)
        return cls(ref=ref, sha=sha, date=date, path=path)

    def has(self, name: str) -> bool:
        """Whether this release has the benchmark ``name``."""
        return (self.path / "benchmarks" / f"{name}.py").is_file()

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with this tree first on ``PYTHONPATH``."""
        return {**base, "PYTHONPATH": str(self.path)}

    def collect(self, name: str, *, quick: bool, into: Path) -> Path | None:
        """Copy the tree's result of ``name`` into ``into``, tagged with the ref."""
        sub = Path("benchmarks") / "results" / ("quick" if quick else "")
        src = self.path / sub / f"{name}.json"
        if not src.is_file():
            return None
        doc: dict[str, Any] = json.loads(src.read_text(encoding="utf-8"))
        doc["baseline"] = {"ref": self.ref, "commit": self.sha, "date": self.date}
        into.mkdir(parents=True, exist_ok=True)
        out = into / f"{name}.json"
        out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        return out

    def close(self) -> None:
        """Remove the worktree."""
        try:
            _git("worktree", "remove", "--force", str(self.path))
        except subprocess.CalledProcessError:
            shutil.rmtree(self.path, ignore_errors=True)
            _git("worktree", "prune")
