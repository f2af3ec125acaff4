"""``audio-detect models``: shipped detectors and their model-card numbers."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ..exceptions import AudioDetectError
from ..registry import available_models, default_model_name, load_model_dir
from ._common import console, fail


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    refresh_card: Annotated[
        list[str] | None,
        typer.Option(
            help="Re-render this model's MODEL_CARD.md from its stored evaluations "
            "(no scoring; repeatable), keeping its text above the measured section, "
            "and record the card's new sha256; then list."
        ),
    ] = None,
) -> None:
    """List the shipped detectors (verified by sha256) with their measured metrics."""
    from ..evaluation.model_card import CARD_NAME, refresh_model_card

    for name in refresh_card or []:
        try:
            # the card may have been edited by hand: it is re-hashed, everything else verified
            path = load_model_dir(name, unverified={CARD_NAME}).path
            refresh_model_card(path)
        except AudioDetectError as exc:
            raise fail(exc) from exc
        console.print(f"refreshed {path / CARD_NAME}")
    rows = []
    try:
        default = default_model_name()
    except AudioDetectError:
        default = ""
    for name in available_models():
        try:
            info = load_model_dir(name).info()
            info["default"] = name == default
        except AudioDetectError as exc:
            info = {"name": name, "error": {"code": exc.code, "message": str(exc)}}
        rows.append(info)
    if not rows:
        raise fail("no models found")
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title="audio-detect models")
    for col in ("name", "version", "format", "rate", "default", "metrics", "sha256"):
        table.add_column(col)
    for r in rows:
        if "error" in r:
            table.add_row(r["name"], "", "", "", "", f"[red]{r['error']['message']}[/red]", "")
            continue
        metrics = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in (r.get("metrics") or {}).get("summary", {}).items()
        )
        table.add_row(
            r["name"],
            r["version"],
            r["format"],
            str(r["sample_rate"]),
            "yes" if r["default"] else "",
            metrics,
            r["sha256"][:12],
        )
    console.print(table)
