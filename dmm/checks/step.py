"""Step 6 as one call: check the chain, preview drift and quality, write the report, optionally publish.

``Step6Options.validated`` checks the cheap inputs (window, flags, output folder) with the standard library only;
``check_monitoring`` then imports the engine (pandas, pyarrow, scipy, scikit-learn) and does the work. A script
that validates first reports a usage error in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmm.checks.result import FAIL
from dmm.checks.window import Window, window_from
from dmm.dataio import check_output_dir
from dmm.errors import UsageError
from dmm.paths import check_output_file

if TYPE_CHECKING:
    from dmm.checks.context import ConfigLoader, Connect


@dataclass(frozen=True)
class Step6Options:
    window: Window
    output_dir: Path = Path(".")
    config_path: str | None = None
    prediction_data: str | None = None
    ground_truth_file: str | None = None
    preview: bool = True
    push_metrics: bool = False
    schedule: bool = False
    env: Mapping[str, str] | None = None
    engine: str = "local"  # who reads the window: "local" or "spark" (dmm.analysis.engine)

    @classmethod
    def validated(cls, *, days: float | None = None, start: str | None = None, end: str | None = None,
                  output_dir: str = ".", preview: bool = True, push_metrics: bool = False, schedule: bool = False,
                  **rest: Any) -> Step6Options:
        """Options from the flags, or a ``UsageError`` naming the flag; nothing heavy is imported."""
        if (push_metrics or schedule) and not preview:
            raise UsageError("--push-metrics and --schedule need the preview", "Drop --no-preview")
        window = window_from(days, start, end)
        folder = check_output_dir(output_dir)
        for name in ("monitoring_report.html", "monitoring_report.json"):  # dmm.report's names (pandas-free here)
            check_output_file(folder / name, "--output-dir")
        _check_inputs(rest)
        rest["engine"] = _engine(rest.get("engine"), preview)
        return cls(window, folder, preview=preview, push_metrics=push_metrics, schedule=schedule, **rest)


def _check_inputs(rest: Mapping[str, Any]) -> None:
    """The files and folders the flags name: the right shape and readable, before any check runs (exit 2)."""
    from dmm.paths import check_readable_file

    if rest.get("config_path"):
        from dmm.config import read_config_data

        read_config_data(check_readable_file(rest["config_path"], "The config", flag="--config", thing="config"))
    if rest.get("ground_truth_file"):
        check_readable_file(rest["ground_truth_file"], "The ground-truth file", flag="--ground-truth")
    if rest.get("prediction_data"):
        from dmm.prediction_files import check_prediction_dir

        check_prediction_dir(rest["prediction_data"])


def _engine(requested: str | None, preview: bool) -> str:
    """``--engine``: ``auto`` is Spark only when a Spark session is already active; Spark must be able to start."""
    from dmm.analysis.engine import check_spark_available, resolve_engine

    engine = resolve_engine(requested)
    if engine == "spark" and preview:
        check_spark_available()
    return engine


@dataclass
class Step6Outcome:
    report: dict[str, Any]
    html_path: Path
    json_path: Path
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when no check failed (warnings allowed), 1 when one did."""
        return 1 if any(check["status"] == FAIL for check in self.report["checks"]) else 0


def check_monitoring(options: Step6Options, *, connect: Connect | None = None,
                     load_config: ConfigLoader | None = None,
                     on_report: Callable[[dict[str, Any]], None] | None = None) -> Step6Outcome:
    """Run the checks and the preview, hand the report to ``on_report`` (the script prints it: the checks are shown
    even if the report cannot be written), write the report, then publish; the report is kept even if publishing
    fails."""
    from dmm.checks.chain import run_checks
    from dmm.checks.context import CheckContext, CheckInputs
    from dmm.checks.scan import ScanPlan, plan_scan
    from dmm.preview import build_report
    from dmm.publish import publish
    from dmm.report import write_report

    inputs = CheckInputs(config_path=options.config_path, env=options.env, prediction_data=options.prediction_data,
                         ground_truth_file=options.ground_truth_file, start=options.window.start,
                         end=options.window.end)
    ctx = CheckContext(inputs, connect=connect)
    if load_config is not None:
        ctx.load_config = load_config
    # the join-rate check's pass over the files feeds the preview; options.engine says who reads them
    plan_scan(ctx, ScanPlan(preview=options.preview, engine=options.engine))
    results = run_checks(ctx)
    report = build_report(ctx, results, preview=options.preview)
    if on_report is not None:
        on_report(report)
    html_path, json_path = write_report(report, options.output_dir)
    notes = publish(ctx, report, push=options.push_metrics, schedule=options.schedule)
    if notes:
        write_report(report, options.output_dir)
    return Step6Outcome(report, html_path, json_path, notes)
