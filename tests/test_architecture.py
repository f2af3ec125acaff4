"""The layer rules and the no-cycle rule of docs/architecture.md, enforced (issue #18).

Two independent checks:

* the import-linter contracts in ``.importlinter`` (layers, library-without-service,
  acyclic siblings), run with ``lint-imports`` from the dev extra;
* a dependency-free scan of every ``import`` statement of ``audio_detect`` and
  ``audio_detect_service`` (source directory ``api/``; module level, inside functions,
  under ``TYPE_CHECKING``) that fails on any cycle between modules.

Each check is also run on a two-module package with a cycle, to show it would fail.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Import name -> source directory (the service installs as audio_detect_service from api/).
PACKAGES = {"audio_detect": "audio_detect", "audio_detect_service": "api"}


# --------------------------------------------------------------------------- AST scan


def _modules(root: Path, packages: Mapping[str, str]) -> dict[str, tuple[Path, bool]]:
    out = {}
    for pkg, src in packages.items():
        for path in sorted((root / src).rglob("*.py")):
            parts = [pkg, *path.relative_to(root / src).with_suffix("").parts]
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            out[".".join(parts)] = (path, is_pkg)
    return out


def _targets(module: str, is_pkg: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".") if is_pkg else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    # ``from pkg import name`` imports pkg, and pkg.name too when that is a module.
    return [target, *(f"{target}.{a.name}" for a in node.names)]


def import_graph(root: Path, packages: Mapping[str, str]) -> dict[str, set[str]]:
    """Module -> modules of ``packages`` it imports anywhere in its source."""
    mods = _modules(root, packages)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, (path, is_pkg) in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(name, is_pkg, node):
                    # importing a.b.c also imports a and a.b (their __init__)
                    parts = target.split(".")
                    for i in range(1, len(parts) + 1):
                        dep = ".".join(parts[:i])
                        if dep in mods and dep != name and not name.startswith(dep + "."):
                            graph[name].add(dep)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _cyclic_package(tmp_path: Path) -> Path:
    pkg = tmp_path / "cyc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n"
    )
    return tmp_path


def test_no_import_cycles_between_modules() -> None:
    graph = import_graph(REPO, PACKAGES)
    assert len(graph) > 100  # the scan found the packages
    assert cycles(graph) == []


def test_no_module_imports_the_service_by_its_directory_name() -> None:
    """The service is ``audio_detect_service`` (source ``api/``): ``import api`` is a bug."""
    offenders = []
    for name, (path, is_pkg) in _modules(REPO, PACKAGES).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(name, is_pkg, node):
                    if target == "api" or target.startswith("api."):
                        offenders.append(f"{name}: {target}")
    assert offenders == []


def test_the_cycle_scan_catches_a_cycle(tmp_path: Path) -> None:
    root = _cyclic_package(tmp_path)
    assert cycles(import_graph(root, {"cyc": "cyc"})) == [["cyc.a", "cyc.b"]]


# --------------------------------------------------------------------------- import-linter


def _lint_imports(config: Path, cwd: Path, extra_path: Path | None = None):
    pytest.importorskip("importlinter", reason="import-linter is in the dev extra")
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(config), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_contracts_are_kept() -> None:
    out = _lint_imports(REPO / ".importlinter", REPO)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout
    names = ("Library layers", "Evaluation layers", "Streaming layers", "Service layers")
    names += ("does not import the service",)
    for name in (*names, "No cycles"):
        assert name in out.stdout


def test_the_acyclic_contract_catches_a_cycle(tmp_path: Path) -> None:
    root = _cyclic_package(tmp_path)
    config = tmp_path / "contracts.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    cyc\n\n"
        "[importlinter:contract:acyclic]\nname = acyclic\ntype = acyclic_siblings\n"
        "ancestors =\n    cyc\n"
    )
    out = _lint_imports(config, tmp_path, extra_path=root)
    assert out.returncode != 0 and "BROKEN" in out.stdout, out.stdout + out.stderr
