"""One passing condition for every verdict the engine gives: drift tests, quality metrics, the out-of-range share.

A ``Threshold`` is an operator and a number; it is validated when it is made, so a misspelt operator is a
``ConfigError`` wherever it comes from (a drift config, a quality threshold, a sandbox request), never a silent
"no verdict". A threshold of ``None`` means "report the value, give no pass/fail".
"""

from __future__ import annotations

import math
import operator as op
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dmm.errors import ConfigError

OPERATORS: dict[str, Callable[[float, float], bool]] = {"<": op.lt, "<=": op.le, ">": op.gt, ">=": op.ge}


@dataclass(frozen=True)
class Threshold:
    """The passing condition ``value <operator> threshold``."""

    operator: str
    threshold: float | None

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise ConfigError(f"The passing condition has the operator {self.operator!r}",
                              f"Use one of {', '.join(OPERATORS)}")
        if self.threshold is not None:
            if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) \
                    or not math.isfinite(self.threshold):
                raise ConfigError(f"The passing condition has the threshold {self.threshold!r}",
                                  "Give a finite number (or null for no pass/fail)")
            object.__setattr__(self, "threshold", float(self.threshold))

    @classmethod
    def parse(cls, spec: Mapping[str, Any], where: str, default: Threshold | None = None) -> Threshold:
        """From ``{"operator": ..., "threshold": ...}``; keys left out come from ``default``. ``where`` names the
        setting in the error (for example "quality metric mape")."""
        if not isinstance(spec, Mapping):
            raise ConfigError(f"The {where} condition is {spec!r}, not an object",
                              'Give {"operator": "<", "threshold": 0.2}')
        unknown = sorted(set(spec) - {"operator", "threshold"})
        if unknown:
            raise ConfigError(f"The {where} condition has unknown key(s) {', '.join(map(str, unknown))}",
                              "Use operator and threshold")
        operator = spec.get("operator", default.operator if default else None)
        threshold = spec.get("threshold", default.threshold if default else None)
        try:
            return cls(operator, threshold)
        except ConfigError as error:
            raise ConfigError(f"The {where} condition: {error.message[0].lower()}{error.message[1:]}",
                              error.advice) from None

    def passes(self, value: float | None) -> bool | None:
        """True/False, or None when there is no value or no threshold."""
        if value is None or self.threshold is None or not math.isfinite(value):
            return None
        return bool(OPERATORS[self.operator](value, self.threshold))

    def severity(self, value: float | None) -> float:
        """How far ``value`` is past the threshold: above 1 fails, larger is worse; 0 without a value."""
        if value is None or self.threshold is None or not math.isfinite(value):
            return 0.0
        tiny, ceiling = 1e-12, 1e9
        if self.operator in ("<", "<="):
            return min(float(value) / max(self.threshold, tiny), ceiling)
        return min(max(self.threshold, tiny) / max(float(value), tiny), ceiling)

    @property
    def condition(self) -> str:
        return "no pass/fail" if self.threshold is None else f"value {self.operator} {self.threshold:g}"

    def to_dict(self) -> dict[str, Any]:
        return {"operator": self.operator, "threshold": self.threshold}
