"""Step 6: check the whole monitoring chain now, and preview drift and model quality with DMM's rules.

Checks the config, API key, training set, endpoint, capture names, DMM model, data source, ingested predictions,
ground truth, join rate; previews drift, quality and your --metric functions; writes monitoring_report.html/.json.

Exit codes: 0 checks passed (warnings allowed); 1 a check failed (or what --fail-on names); 2 bad input; 3 service.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dmm.args import MAX_DAYS, float_in_range
from dmm.checks.fail_on import FAIL_ON_CHOICES
from dmm.checks.step import Step6Options, check_monitoring
from dmm.checks.summary import report_lines
from dmm.checks.window import DEFAULT_DAYS
from dmm.cli import HelpFormatter, add_domino_arguments, files_progress, run
from dmm.config import add_config_argument
from dmm.drift_settings import add_drift_test_arguments

if TYPE_CHECKING:
    from dmm.checks.context import ConfigLoader, Connect


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter,
                                     epilog="Examples:\n  python 6_check_monitoring.py --days 2\n  python "
                                            "6_check_monitoring.py --prediction-data DIR --engine spark")
    add_config_argument(parser)
    data = parser.add_argument_group("where the data is")
    data.add_argument("--prediction-data", metavar="DIR",
                      help="the mounted prediction_data dataset, or one model version's folder in it (default: "
                           "/domino/datasets/local/prediction_data or /mnt/data/prediction_data when mounted)")
    data.add_argument("--ground-truth", metavar="FILE", help="a ground-truth file (CSV, Parquet or JSON Lines) with "
                      "event_id and the label (default: the files step 5 uploaded, from the data source)")
    window = parser.add_argument_group(f"which predictions (default: the last {DEFAULT_DAYS} days)")
    window.add_argument("--days", type=float_in_range("--days", 0, MAX_DAYS), help="the last N days, to --end or now")
    window.add_argument("--start", help="window start, YYYY-MM-DD or an ISO date-time (UTC unless it says otherwise)")
    window.add_argument("--end", help="window end (exclusive), YYYY-MM-DD or an ISO date-time (default: now)")
    add_drift_test_arguments(parser)
    out = parser.add_argument_group("output")
    out.add_argument("--output-dir", default=".", help="where to write monitoring_report.html/.json (default: .)")
    out.add_argument("--no-preview", action="store_true", help="run the checks only; no drift or quality preview")
    out.add_argument("--json", action="store_true", help="print the report as JSON instead of the summary")
    out.add_argument("--no-probe", action="store_true", help="send no sample row to the endpoint (no endpoint check)")
    out.add_argument("--fail-on", choices=FAIL_ON_CHOICES, help="also exit 1 when drift, quality or either (any) "
                     "fails or cannot be measured; default: only a failed check does (for a scheduled Job)")
    out.add_argument("--metric", action="append", default=[], metavar="FILE.py", help="your own metrics (README)")
    out.add_argument("--engine", choices=("auto", "local", "spark"), default="auto", help="spark: PySpark reads it")
    extra = parser.add_argument_group("optional, writes to Domino")
    extra.add_argument("--push-metrics", action="store_true",
                       help="log the previewed drift and quality values to DMM as custom metrics, alerting on failures")
    extra.add_argument("--schedule", action="store_true", help="merge the tests into DMM's checks; schedule once")
    add_domino_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None, *, connect: Connect | None = None,
         load_config: ConfigLoader | None = None) -> int:
    """``connect`` and ``load_config`` are for tests; by default the config is found and Domino is the real one."""
    args = build_parser().parse_args(argv)
    options = Step6Options.from_arguments(args)

    def show(report: dict) -> None:  # the checks are printed before the report is written, so a full disk hides none
        print("\n".join(report_lines(report)), flush=True)

    outcome = check_monitoring(options, connect=connect, load_config=load_config, on_report=None if args.json else show,
                               progress=files_progress)
    tail = [*outcome.notes, "", f"Report: {outcome.html_path} (source: {outcome.json_path})"]
    print(outcome.json_path.read_text().rstrip("\n") if args.json else "\n".join(tail))
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(run(main))
