"""Text for the report: escaping, numbers, percentages, badges."""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

STATUSES = ("PASS", "WARN", "FAIL", "SKIP", "INFO")


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def badge(status: str) -> str:
    safe = status if status in STATUSES else "SKIP"
    return f'<span class="badge {safe}">{e(status)}</span>'


def text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(text, value))
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def percent(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) and math.isfinite(value) else "—"


def short(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
