"""Run the performance benchmarks in sequence and regenerate ``benchmarks/README.md``.

Each benchmark runs in its own Python process (``python -m benchmarks.<name>``): the
scoring-speed run must pin its math libraries to one thread before they load, and a
crashed benchmark must not take the others with it. Results go to
``benchmarks/results/<name>.json``; then the generated section of
``benchmarks/README.md`` is rewritten from every result file present.

The default run is ``scoring_speed``, ``api_latency``, ``streams``, ``training`` and
``batch_throughput``: every number in ``benchmarks/README.md``.

``--quick`` shrinks every benchmark to a smoke test (about a minute in all) and writes
``benchmarks/results/quick/`` and ``benchmarks/results/quick/README.md`` instead, so a
smoke test never overwrites real numbers.

The reliability scripts of issue 7 (``load``, ``soak``, ``crash_safety``) can be run
through ``--only`` too (with their own defaults, no ``--quick``); they are not
performance benchmarks and their results are described in ``docs/reliability.md``, not
in the generated README.

Run::

    python -m benchmarks.run                         # ~20-25 min on 2 cores
    python -m benchmarks.run --quick                 # ~1 min smoke test
    python -m benchmarks.run --only scoring_speed streams --model whisper-cm-8k
    python -m benchmarks.run --render-only           # README from the JSON files as they are
    python -m benchmarks.run --only load soak crash_safety   # reliability runs, ~25 min
    python -m benchmarks.run --baseline <ref>        # + the release at <ref>, same run

``--baseline REF`` runs ``scoring_speed``, ``api_latency`` and ``streams`` of the release at
git ref ``REF`` right before this tree's (:mod:`benchmarks.baseline`), so the target table
shows this release against that one measured on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._common import QUICK_RESULTS, REPO, RESULTS, model_dir
from benchmarks.baseline import COMPARED, BaselineTree

BENCHMARKS = ("scoring_speed", "api_latency", "streams", "training", "batch_throughput")
LEGACY = ("load", "soak", "crash_safety")
README = REPO / "benchmarks" / "README.md"


def command(name: str, args: argparse.Namespace) -> list[str]:
    """The child command of one benchmark."""
    if name in LEGACY:
        cmd = [sys.executable, str(REPO / "benchmarks" / f"{name}.py")]
        return cmd + (["--model", str(model_dir(args.model).path)] if args.model else [])
    # No --out: each writes benchmarks/results[/quick]/<name>.json, where render reads.
    cmd = [sys.executable, "-m", f"benchmarks.{name}", *(["--quick"] if args.quick else [])]
    return cmd + (["--model", args.model] if args.model else [])


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test, ~1 min in all")
    ap.add_argument(
        "--only",
        nargs="+",
        choices=(*BENCHMARKS, *LEGACY),
        metavar="NAME",
        help=f"run these only: {', '.join(BENCHMARKS + LEGACY)}",
    )
    ap.add_argument(
        "--model",
        help="model name or path (default: models/DEFAULT; "
        "scoring_speed then measures every model in models/)",
    )
    ap.add_argument(
        "--baseline",
        metavar="REF",
        help=f"git ref of the release to compare with: {', '.join(COMPARED)} of that tree "
        "run right before this tree's",
    )
    ap.add_argument("--render-only", action="store_true", help="only regenerate the README")
    ap.add_argument(
        "--readme",
        type=Path,
        help="README to update (default benchmarks/README.md"
        ", or results/quick/README.md with --quick)",
    )
    args = ap.parse_args(argv)
    results = QUICK_RESULTS if args.quick else RESULTS
    names = [] if args.render_only else (args.only or list(BENCHMARKS))
    if args.quick and any(n in LEGACY for n in names):
        raise SystemExit(f"--quick does not apply to {', '.join(LEGACY)}; run them without it")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    failed = []
    t_all = time.monotonic()
    if names and not args.baseline:  # a baseline is only shown from the run that measured it
        shutil.rmtree(results / "baseline", ignore_errors=True)
    tree = BaselineTree.checkout(args.baseline) if args.baseline and names else None
    if tree is not None:
        print(f"baseline: {args.baseline} = {tree.sha[:12]} ({tree.date[:10]}) in {tree.path}")
    try:
        for name in names:
            if tree is not None and name in COMPARED:
                failed += _run_baseline(tree, name, args, env, results / "baseline")
            failed += _run(name, command(name, args), REPO, env)
    finally:
        if tree is not None:
            tree.close()
    from benchmarks.report import load_results, render_all, update_readme

    readme = args.readme or (results / "README.md" if args.quick else README)
    this = "python -m benchmarks.run" + (" --quick" if args.quick else "")
    baseline = load_results(results / "baseline")
    update_readme(readme, render_all(load_results(results), this, baseline=baseline))
    rel = readme.relative_to(REPO) if readme.is_relative_to(REPO) else readme
    print(f"\nupdated {rel} ({time.monotonic() - t_all:.0f} s in all)")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _run(name: str, cmd: list[str], cwd: Path, env: dict[str, str]) -> list[str]:
    """Run one benchmark; ``[name]`` when it failed."""
    print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
    t0 = time.monotonic()
    rc = subprocess.run(cmd, cwd=cwd, env=env, check=False).returncode
    print(f"=== {name}: exit {rc} in {time.monotonic() - t0:.0f} s", flush=True)
    return [name] if rc else []


def _run_baseline(
    tree: BaselineTree, name: str, args: argparse.Namespace, env: dict[str, str], into: Path
) -> list[str]:
    """Run the baseline tree's own ``name`` (its default model) and collect its result."""
    if not tree.has(name):
        print(f"=== baseline {name}: not in {args.baseline}; skipped")
        return []
    cmd = [sys.executable, "-m", f"benchmarks.{name}", *(["--quick"] if args.quick else [])]
    bad = _run(f"baseline {name}", cmd, tree.path, tree.env(env))
    if not bad and tree.collect(name, quick=args.quick, into=into) is None:
        bad = [f"baseline {name} (no result file)"]
    return bad


if __name__ == "__main__":
    raise SystemExit(main())
