"""Step 6: check the whole monitoring chain now, and preview drift and model quality with DMM's rules.

Checks the config and API key, the training set against monitoring_schema.json, the endpoint and the names it
captures under, the DMM model, the data source, ingested predictions, registered ground truth and how well the
labels join to the predictions. Then previews drift (training set against the predictions captured in the
window) and quality over the labelled predictions, and writes monitoring_report.html and monitoring_report.json.

Exit codes: 0 every check passed (warnings allowed); 1 a check failed; 2 bad input; 3 a Domino service refused.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dmm.args import MAX_DAYS, float_in_range
from dmm.checks.step import Step6Options, check_monitoring
from dmm.checks.summary import report_lines
from dmm.checks.window import DEFAULT_DAYS
from dmm.cli import add_domino_arguments, run
from dmm.config import add_config_argument

if TYPE_CHECKING:
    from dmm.checks.context import ConfigLoader, Connect


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Examples: python "
                                     "6_check_monitoring.py --days 2 ; ... --prediction-data DIR --engine spark")
    add_config_argument(parser)
    data = parser.add_argument_group("where the data is")
    data.add_argument("--prediction-data", metavar="DIR",
                      help="the mounted prediction_data dataset, or one model version's folder in it (default: "
                           "/domino/datasets/local/prediction_data or /mnt/data/prediction_data when mounted)")
    data.add_argument("--ground-truth", metavar="FILE",
                      help="a ground-truth file (CSV, Parquet or JSON Lines) with event_id and the label "
                           "(default: the files step 5 uploaded, from the data source)")
    window = parser.add_argument_group(f"which predictions (default: the last {DEFAULT_DAYS} days)")
    window.add_argument("--days", type=float_in_range("--days", 0, MAX_DAYS),
                        help="the last N days, up to --end or now")
    window.add_argument("--start", help="window start, YYYY-MM-DD or an ISO date-time (UTC unless it says otherwise)")
    window.add_argument("--end", help="window end (exclusive), YYYY-MM-DD or an ISO date-time (default: now)")
    out = parser.add_argument_group("output")
    out.add_argument("--output-dir", default=".", help="where to write monitoring_report.html/.json (default: .)")
    out.add_argument("--no-preview", action="store_true", help="run the checks only; no drift or quality preview")
    out.add_argument("--json", action="store_true", help="print the report as JSON instead of the summary")
    out.add_argument("--engine", choices=("auto", "local", "spark"), default="auto", help="spark: PySpark reads it")
    extra = parser.add_argument_group("optional, writes to Domino")
    extra.add_argument("--push-metrics", action="store_true",
                       help="log the previewed drift and quality values to DMM as custom metrics, alerting on failures")
    extra.add_argument("--schedule", action="store_true",
                       help="save the drift-check config and create the daily drift check in Model Monitor")
    add_domino_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None, *, connect: Connect | None = None,
         load_config: ConfigLoader | None = None) -> int:
    """``connect`` and ``load_config`` are for tests; by default the config is found and Domino is the real one."""
    args = build_parser().parse_args(argv)
    options = Step6Options.validated(
        days=args.days, start=args.start, end=args.end, output_dir=args.output_dir, preview=not args.no_preview,
        push_metrics=args.push_metrics, schedule=args.schedule, config_path=args.config,
        prediction_data=args.prediction_data, ground_truth_file=args.ground_truth, engine=args.engine)
    def show(report: dict) -> None:  # the checks are printed before the report is written, so a full disk hides none
        if not args.json:
            print("\n".join(report_lines(report)), flush=True)

    outcome = check_monitoring(options, connect=connect, load_config=load_config, on_report=show)
    if args.json:
        print(outcome.json_path.read_text(), end="")
    else:
        print("\n".join([*outcome.notes, "", f"Report: {outcome.html_path} (source: {outcome.json_path})"]))
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(run(main))
