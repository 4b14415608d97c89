"""Step 6: check the whole monitoring chain now, and preview drift and model quality with DMM's rules.

Checks the config and API key, the training set against monitoring_schema.json, the endpoint and the names it
captures under, the DMM model, the data source, ingested predictions, registered ground truth and how well the
labels join to the predictions. Then previews drift (training set against the predictions captured in the
window) and quality over the labelled predictions, and writes monitoring_report.html and monitoring_report.json.

Exit codes: 0 every check passed (warnings allowed); 1 a check failed; 2 bad input; 3 a Domino service refused.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from dmm.cli import run
from dmm.errors import UsageError

DEFAULT_DAYS = 7


def build_parser() -> argparse.ArgumentParser:
    from config_loader import add_config_argument

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Examples: python 6_check_monitoring.py ; python 6_check_monitoring.py "
                                            "--prediction-data /mnt/data/prediction_data --days 2")
    add_config_argument(parser)
    data = parser.add_argument_group("where the data is")
    data.add_argument("--prediction-data", metavar="DIR",
                      help="the mounted prediction_data dataset, or one model version's folder in it (default: "
                           "/domino/datasets/local/prediction_data or /mnt/data/prediction_data when mounted)")
    data.add_argument("--ground-truth", metavar="FILE",
                      help="a ground-truth file (CSV, Parquet or JSON Lines) with event_id and the label "
                           "(default: the files step 5 uploaded, from the data source)")
    window = parser.add_argument_group(f"which predictions (default: the last {DEFAULT_DAYS} days)")
    window.add_argument("--days", type=float, help="the last N days, up to --end or now")
    window.add_argument("--start", help="window start, YYYY-MM-DD or an ISO date-time (UTC unless it says otherwise)")
    window.add_argument("--end", help="window end (exclusive), YYYY-MM-DD or an ISO date-time (default: now)")
    out = parser.add_argument_group("output")
    out.add_argument("--output-dir", default=".", help="where to write monitoring_report.html/.json (default: .)")
    out.add_argument("--no-preview", action="store_true", help="run the checks only; no drift or quality preview")
    out.add_argument("--json", action="store_true", help="print the report as JSON instead of the summary")
    extra = parser.add_argument_group("optional, writes to Domino")
    extra.add_argument("--push-metrics", action="store_true",
                       help="log the previewed drift and quality values to DMM as custom metrics, alerting on failures")
    extra.add_argument("--schedule", action="store_true",
                       help="save the drift-check config and create the daily drift check in Model Monitor")
    return parser


def parse_moment(value: str, flag: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not a date", f"Write {flag} as YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def window_from(args: argparse.Namespace, now: datetime | None = None) -> tuple[datetime, datetime]:
    if args.days is not None and args.start:
        raise UsageError("--days and --start both set the window start", "Use one of them")
    if args.days is not None and args.days <= 0:
        raise UsageError(f"--days must be positive, not {args.days:g}", "Pass a number of days such as --days 7")
    end = parse_moment(args.end, "--end") if args.end else (now or datetime.now(timezone.utc))
    start = parse_moment(args.start, "--start") if args.start else end - timedelta(days=args.days or DEFAULT_DAYS)
    if start >= end:
        raise UsageError(f"The window starts ({start:%Y-%m-%d %H:%M}) at or after it ends ({end:%Y-%m-%d %H:%M})",
                         "Pass a --start earlier than --end")
    return start, end


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from dmm.checks import CheckContext, CheckInputs, Services, run_checks
    from dmm.preview import build_report, exit_code
    from dmm.dataio import check_output_dir
    from dmm.report import write_report

    if (args.push_metrics or args.schedule) and args.no_preview:
        raise UsageError("--push-metrics and --schedule need the preview", "Drop --no-preview")
    start, end = window_from(args)
    check_output_dir(args.output_dir)
    ctx = CheckContext(CheckInputs(config_path=args.config, prediction_data=args.prediction_data,
                                   ground_truth_file=args.ground_truth, start=start, end=end), Services())
    results = run_checks(ctx)
    report = build_report(ctx, results, preview=not args.no_preview)
    html_path, json_path = write_report(report, args.output_dir)  # kept even if publishing fails below
    notes = publish(ctx, report, args)
    if notes:
        write_report(report, args.output_dir)

    if args.json:
        print(json_path.read_text(), end="")
    else:
        print_summary(report, notes, html_path, json_path)
    return exit_code(report)


def publish(ctx: Any, report: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """--push-metrics and --schedule; what they did, for the summary (also kept in the report)."""
    notes: list[str] = []
    if not (args.push_metrics or args.schedule):
        return notes
    blocked = [name for name in ("api key", "DMM model") if not ctx.results[name].ok]
    if blocked:
        return [f"Skipped --push-metrics/--schedule: {', '.join(blocked)} did not pass"]
    from dmm.publish import custom_metrics_client, push_metrics, schedule_drift_checks

    config = ctx.config
    if args.push_metrics:
        host = os.environ.get("DOMINO_API_HOST") or config.domino_base_url
        client = custom_metrics_client(config.api_key(), host, os.environ)
        pushed = push_metrics(report, config.model_monitor_id, client, ctx.end)
        report["custom_metrics"] = {"logged": pushed.logged, "alerts": pushed.alerts}
        notes.append(f"Custom metrics: logged {len(pushed.logged)} value(s), raised {len(pushed.alerts)} alert(s)")
    if args.schedule:
        scheduled = schedule_drift_checks(report, config.model_monitor_id, ctx.monitor)
        report["schedule"] = {"features": scheduled["features"]}
        notes.append(f"Schedule: saved the drift-check config for {scheduled['features']} column(s) and created "
                     "the daily drift check")
    return notes


def print_summary(report: dict[str, Any], notes: Sequence[str], html_path: Any, json_path: Any) -> None:
    for check in report["checks"]:
        print(f"{check['status']:<5} {check['name']} — {check['detail']}")
        if check.get("fix") and check["status"] in ("FAIL", "WARN"):
            print(f"      fix: {check['fix']}")
    drift, quality = report.get("drift"), report.get("quality")
    if drift is not None:
        print()
        print(drift_line(drift))
    if quality is not None:
        print(quality_line(quality))
    for note in notes:
        print(note)
    print()
    print(f"Report: {html_path} (source: {json_path})")


def drift_line(drift: dict[str, Any]) -> str:
    columns = drift.get("columns") or []
    if drift.get("status") != "ok":
        return f"Drift: {drift.get('reason', 'not computed')}"
    failing = [c for c in columns if c.get("passed") is False]
    worst = ", ".join(f"{c['column']} {c['main_test']} {c['value']:.3g}" for c in failing[:5])
    small = [c for c in columns if c.get("small_sample")]
    caution = (f" (caution: too few predictions for {len(small)} column(s)' bins, so their drift values are mostly "
               f"noise; send at least {max(c['reliable_rows'] for c in small):,} for a reliable preview)"
               if small else "")
    return (f"Drift: {len(failing)} of {len(columns)} column(s) drifted over {drift.get('production_rows', 0):,} "
            f"prediction(s)" + (f": {worst}" if worst else "") + caution)


def quality_line(quality: dict[str, Any]) -> str:
    if quality.get("status") != "ok":
        return f"Quality: {quality.get('reason', 'not computed')}"
    shown = ", ".join(f"{m.get('api_name') or m['name']} {m['value']:.3g}"
                      for m in quality.get("metrics") or [] if m.get("value") is not None)
    return f"Quality over {quality.get('matched_rows', 0):,} matched row(s): {shown or 'no metric has a value'}"


if __name__ == "__main__":
    sys.exit(run(main))
