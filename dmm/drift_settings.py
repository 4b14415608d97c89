"""Which drift test and threshold step 6 previews for each column, and where each came from (issue 10 §5).

Model Monitor keeps a test and a passing condition per variable: ``GET /model/{id}/drift-scheduler-query`` answers
``{features: [{name, algorithm, condition{operator, lower, upper}, ...}]}`` (domino-api.md §2.2 and §6.2 [observed];
Fraud-Detection-Workshop ``monitoring_blueprints/DOMINO_PLATFORM_NOTES.md`` §5b). Those are the user's settings, so
the preview uses them; ``--drift-test COL=TEST`` and ``--drift-threshold COL=OP:VALUE`` override a column for the
preview; every other column gets the engine's default (``dmm.analysis.DEFAULT_DRIFT_CONFIG``). Each column's
source is ``monitor``, ``flag`` or ``default``. The flag syntax is checked with the standard library only
(``parse_flags``); test names are checked against the engine's registry by ``DriftSettings.validate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dmm.errors import UsageError

MONITOR, FLAG, DEFAULT = "monitor", "flag", "default"
FLAG_OPERATORS = ("<=", ">=", "<", ">")


@dataclass(frozen=True)
class DriftFlags:
    """``--drift-test`` and ``--drift-threshold`` as parsed: ``{column: test}``, ``{column: (operator, value)}``."""

    tests: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, tuple[str, float]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.tests or self.thresholds)

    @property
    def columns(self) -> set[str]:
        return set(self.tests) | set(self.thresholds)


def _split(flag: str, value: str, shape: str) -> tuple[str, str]:
    column, sep, rest = value.partition("=")
    if not sep or not column.strip() or not rest.strip():
        raise UsageError(f"{flag} {value!r} is not {shape}", f"Write it as {flag} {shape}, e.g. {flag} "
                         + ("age=KS" if flag == "--drift-test" else "age=<:0.2"), code="flag-invalid")
    return column.strip(), rest.strip()


def parse_flags(tests: Iterable[str] = (), thresholds: Iterable[str] = ()) -> DriftFlags:
    """The flags' values, or ``UsageError`` (``flag-invalid``) naming the first malformed one."""
    parsed_tests = dict(_split("--drift-test", value, "COLUMN=TEST") for value in tests)
    parsed_thresholds: dict[str, tuple[str, float]] = {}
    for value in thresholds:
        column, rest = _split("--drift-threshold", value, "COLUMN=OP:VALUE")
        operator, sep, number = rest.partition(":")
        try:
            threshold = float(number)
        except ValueError:
            threshold = float("nan")
        if not sep or operator.strip() not in FLAG_OPERATORS or threshold != threshold or threshold in (
                float("inf"), float("-inf")):
            raise UsageError(f"--drift-threshold {value!r} needs an operator ({', '.join(FLAG_OPERATORS)}) and a "
                             "finite number after the column", "e.g. --drift-threshold age=<:0.2 (passes while the "
                             "value is below 0.2)", code="flag-invalid")
        parsed_thresholds[column] = (operator.strip(), threshold)
    return DriftFlags(parsed_tests, parsed_thresholds)


def check_flag_tests(flags: DriftFlags) -> None:
    """A ``--drift-test`` naming no known test is bad input, refused before any Domino call (the drift tests are
    imported only when a flag names one)."""
    if not flags.tests:
        return
    from dmm.analysis.drift_tests import DRIFT_TESTS

    for column, name in flags.tests.items():
        if (engine_test(name) or name.strip().upper()) not in DRIFT_TESTS:
            raise UsageError(f"--drift-test {column}={name} names an unknown test",
                             f"Use one of {', '.join(DRIFT_TESTS)}", code="flag-invalid")


def add_drift_test_arguments(parser: Any) -> None:
    """Step 6's ``--drift-test COL=TEST`` and ``--drift-threshold COL=OP:VALUE`` (repeatable)."""
    group = parser.add_argument_group("the preview's drift tests (default: those set in Model Monitor per column)")
    group.add_argument("--drift-test", action="append", default=[], metavar="COL=TEST",
                       help="the test for a column, e.g. age=KS (KL, PSI, CHI_SQUARE, KS, WASSERSTEIN, ENERGY, JS)")
    group.add_argument("--drift-threshold", action="append", default=[], metavar="COL=OP:VALUE",
                       help="the passing condition for a column, e.g. age=<:0.2 (passes while below 0.2)")


def engine_test(algorithm: Any) -> str | None:
    """The engine's test key for Model Monitor's algorithm name (``"POPULATION STABILITY INDEX"`` -> ``"PSI"``)."""
    from dmm.analysis.drift_tests import DRIFT_TESTS

    wanted = str(algorithm or "").strip().upper().replace("_", " ").replace("-", " ")
    for key, test in DRIFT_TESTS.items():
        if wanted in (key.replace("_", " "), test.api_name):
            return key
    return None


def monitor_columns(saved: Any) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The monitor's per-column settings as engine overrides, and a note for each entry that could not be read."""
    columns: dict[str, dict[str, Any]] = {}
    notes = []
    features = saved.get("features") if isinstance(saved, Mapping) else None
    for item in features or []:
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        name, condition = str(item["name"]), item.get("condition") or {}
        test = engine_test(item.get("algorithm"))
        operator, lower = condition.get("operator"), condition.get("lower")
        if test is None or operator not in FLAG_OPERATORS or not isinstance(lower, (int, float)) \
                or isinstance(lower, bool):
            notes.append(f"{name}: Model Monitor's setting {item.get('algorithm')!r} {condition or ''} is not one the "
                         "preview can compute, so the default is used")
            continue
        columns[name] = {"test": test, "operator": operator, "threshold": float(lower)}
    return columns, notes


@dataclass
class DriftSettings:
    """The preview's per-column overrides (``DriftConfig``'s ``columns``) and where each column's came from."""

    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    read_from_monitor: bool = False

    @property
    def drift_config(self) -> dict[str, Any] | None:
        return {"columns": self.columns} if self.columns else None

    def source(self, column: str) -> str:
        return self.sources.get(column, DEFAULT)

    def validate(self) -> None:
        """Unknown test names in the flags are bad input (exit 2), checked before any check runs."""
        from dmm.analysis.drift_tests import DRIFT_TESTS

        for column, spec in self.columns.items():
            if self.sources.get(column) == FLAG and spec.get("test") and spec["test"] not in DRIFT_TESTS:
                raise UsageError(f"--drift-test {column}={spec['test']} names an unknown test",
                                 f"Use one of {', '.join(DRIFT_TESTS)}", code="flag-invalid")

    def to_dict(self) -> dict[str, Any]:
        return {"read_from_monitor": self.read_from_monitor, "sources": dict(self.sources), "notes": list(self.notes)}


def resolve(saved: Any, flags: DriftFlags, *, monitor_error: str | None = None) -> DriftSettings:
    """Monitor settings first, flags over them, defaults for the rest."""
    settings = DriftSettings(read_from_monitor=saved is not None)
    if monitor_error:
        settings.notes.append(f"Model Monitor's drift settings could not be read ({monitor_error}); defaults are used")
    columns, notes = monitor_columns(saved)
    settings.notes += notes
    for name, spec in columns.items():
        settings.columns[name] = dict(spec)
        settings.sources[name] = MONITOR
    for name in flags.columns:
        spec = settings.columns.setdefault(name, {})
        if name in flags.tests:
            test = engine_test(flags.tests[name]) or flags.tests[name].strip().upper()
            if spec.get("test") != test:  # another test: the monitor's threshold belonged to the old one
                spec.pop("operator", None)
                spec.pop("threshold", None)
            spec["test"] = test
        if name in flags.thresholds:
            spec["operator"], spec["threshold"] = flags.thresholds[name]
        settings.sources[name] = FLAG
    return settings


def flagged_unknown(settings: DriftSettings, known: Sequence[str]) -> list[str]:
    """Flag columns the preview has no such column for (said in the report, not an error)."""
    return sorted(c for c, s in settings.sources.items() if s == FLAG and c not in set(known))
