"""Step 6 as one call: check the chain, preview drift and quality, write the report, optionally publish.

``Step6Options.validated`` checks the cheap inputs (window, flags, output folder) with the standard library only;
``check_monitoring`` then imports the engine (pandas, pyarrow, scipy.special; not scikit-learn) and does the work.
A script that validates first reports a usage error in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmm.checks.fail_on import check_fail_on, fail_on_reasons
from dmm.checks.result import FAIL
from dmm.checks.window import Window, window_from
from dmm.dataio import check_output_dir
from dmm.drift_settings import DriftFlags, check_flag_tests, parse_flags
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
    probe: bool = True  # False with --no-probe: no sample row is sent to the endpoint
    fail_on: str | None = None  # --fail-on drift|quality|any (dmm/checks/fail_on.py); None: only checks fail
    metrics: tuple[Any, ...] = ()  # dmm.own_metrics.OwnMetric, loaded from --metric files
    drift_flags: DriftFlags = field(default_factory=DriftFlags)
    engine: str = "local"  # who reads the window: "local" or "spark" (dmm.analysis.engine)

    @classmethod
    def from_arguments(cls, args: Any) -> Step6Options:
        """``validated`` with step 6's parsed flags (6_check_monitoring.py's parser)."""
        return cls.validated(
            days=args.days, start=args.start, end=args.end, output_dir=args.output_dir, preview=not args.no_preview,
            push_metrics=args.push_metrics, schedule=args.schedule, config_path=args.config,
            prediction_data=args.prediction_data, ground_truth_file=args.ground_truth, probe=not args.no_probe,
            fail_on=args.fail_on, metric_paths=args.metric, drift_tests=args.drift_test,
            drift_thresholds=args.drift_threshold, engine=args.engine)

    @classmethod
    def validated(cls, *, days: float | None = None, start: str | None = None, end: str | None = None,
                  output_dir: str = ".", preview: bool = True, push_metrics: bool = False, schedule: bool = False,
                  fail_on: str | None = None, metric_paths: Sequence[str] = (), drift_tests: Sequence[str] = (),
                  drift_thresholds: Sequence[str] = (), **rest: Any) -> Step6Options:
        """Options from the flags, or a ``UsageError`` naming the flag; nothing heavy is imported (but the
        --metric modules, which are loaded here so that a broken one stops step 6 before any check)."""
        if (push_metrics or schedule or metric_paths) and not preview:
            raise UsageError("--push-metrics, --schedule and --metric need the preview", "Drop --no-preview")
        check_fail_on(fail_on, preview)
        flags = parse_flags(drift_tests or (), drift_thresholds or ())
        check_flag_tests(flags)
        if flags and not preview:
            raise UsageError("--drift-test and --drift-threshold set the preview's tests", "Drop --no-preview",
                             code="flag-conflict")
        rest["drift_flags"] = flags
        window = window_from(days, start, end)
        folder = check_output_dir(output_dir)
        for name in ("monitoring_report.html", "monitoring_report.json"):  # dmm.report's names (pandas-free here)
            check_output_file(folder / name, "--output-dir")
        _check_inputs(rest)
        rest["engine"] = _engine(rest.get("engine"), preview)
        metrics: tuple[Any, ...] = ()
        if metric_paths:
            from dmm.own_metrics import load_metric_modules

            metrics = load_metric_modules(metric_paths)
        return cls(window, folder, preview=preview, push_metrics=push_metrics, schedule=schedule, fail_on=fail_on,
                   metrics=metrics, **rest)


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
    if engine == "spark":  # the checks' own pass over the files runs on it too, with or without the preview
        check_spark_available()
    return engine


@dataclass
class Step6Outcome:
    report: dict[str, Any]
    html_path: Path
    json_path: Path
    notes: list[str] = field(default_factory=list)
    fail_on: str | None = None

    @property
    def exit_code(self) -> int:
        """0 when no check failed (warnings allowed), 1 when one did, or when ``--fail-on`` names drift or quality
        and the preview found it (or could not compute it)."""
        if any(check["status"] == FAIL for check in self.report["checks"]):
            return 1
        return 1 if self.fail_on_reasons else 0

    @property
    def fail_on_reasons(self) -> list[str]:
        return fail_on_reasons(self.report, self.fail_on)


def check_monitoring(options: Step6Options, *, connect: Connect | None = None,
                     load_config: ConfigLoader | None = None,
                     on_report: Callable[[dict[str, Any]], None] | None = None,
                     progress: Callable[[int], Any] | None = None) -> Step6Outcome:
    """Run the checks and the preview, hand the report to ``on_report`` (the script prints it: the checks are shown
    even if the report cannot be written), write the report, then publish; the report is kept even if publishing
    fails. ``progress(total_files)`` reports the pass over the prediction files (``ScanPlan.progress``)."""
    from dmm.checks.chain import run_checks
    from dmm.checks.context import CheckContext, CheckInputs
    from dmm.checks.scan import ScanPlan, plan_scan
    from dmm.preview import PreviewOptions, build_report, read_drift_settings
    from dmm.publish import publish
    from dmm.report import write_report

    inputs = CheckInputs(config_path=options.config_path, env=options.env, prediction_data=options.prediction_data,
                         ground_truth_file=options.ground_truth_file, start=options.window.start,
                         end=options.window.end, probe=options.probe)
    ctx = CheckContext(inputs, connect=connect)
    if load_config is not None:
        ctx.load_config = load_config
    preview_options = PreviewOptions(metrics=options.metrics)
    watchers: tuple[Any, ...] = ()
    if options.preview:  # the monitor's tests per column, then the flags' (dmm/drift_settings.py)
        settings = read_drift_settings(ctx, options.drift_flags)
        settings.validate()
        preview_options = PreviewOptions(drift_config=settings.drift_config, drift_settings=settings,
                                         metrics=options.metrics)
        # the report's time view, and the rows the --metric functions get
        from dmm.analysis.timeline import Timeline
        from dmm.own_metrics import WindowRows

        watchers = (Timeline(options.window.start, options.window.end),) + ((WindowRows(),) if options.metrics else ())
    # the join-rate check's pass over the files feeds the preview
    plan_scan(ctx, ScanPlan(preview=options.preview, drift_config=preview_options.drift_config, watchers=watchers,
                            engine=options.engine, progress=progress))  # the engine reads the files
    results = run_checks(ctx)
    report = build_report(ctx, results, preview=options.preview, options=preview_options)
    if options.fail_on:
        report["fail_on"] = {"on": options.fail_on, "reasons": fail_on_reasons(report, options.fail_on)}
    if on_report is not None:
        on_report(report)
    html_path, json_path = write_report(report, options.output_dir)
    own = report.get("own_metrics") or {}
    if own.get("status") == "error":  # the checks are shown and the report written; the function is the user's to fix
        raise UsageError(own["reason"], f"Fix the function; the checks are in {html_path}", code=own["code"])
    notes = publish(ctx, report, push=options.push_metrics, schedule=options.schedule)
    if notes:
        write_report(report, options.output_dir)
    return Step6Outcome(report, html_path, json_path, [*notes, *fail_on_lines(report)], options.fail_on)


def fail_on_lines(report: Mapping[str, Any]) -> list[str]:
    """What ``--fail-on`` decided, for the terminal and a Job's log."""
    verdict = report.get("fail_on")
    if not verdict:
        return []
    if not verdict["reasons"]:
        return [f"--fail-on {verdict['on']}: nothing to fail on"]
    return [f"--fail-on {verdict['on']}: exit 1 because " + "; ".join(verdict["reasons"])]
