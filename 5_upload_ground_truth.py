"""Step 5: register ground-truth labels with Domino Model Monitor, each file exactly once.

Finds the ground-truth CSV files that step 4 uploaded (under <prefix>/<model id>/<UTC date>/ in the data source,
and in the ledger) that are not registered yet and fall within --hours or --start-date/--end-date; or takes one
file you made with --file (checked, uploaded, then registered). The first registration declares the
row_identifier and ground_truth variables; later ones send only the dataset details. Dataset names derive from
the file key, and every file is read and checked first: labels already registered (same event id, same label) are
not registered again, an id registered with another label is refused unless --relabel, and a file changed since
its upload is refused. It first finishes any label journal that step 4 left unfinished (interrupted, upload lost).

Run it after Model Monitor has ingested the predictions (daily): labels registered earlier do not match.
Exit codes: 0 done or nothing to do; 1 a file was refused (said why); 2 bad input; 3 a Domino service refused or
could not be reached.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from config_loader import add_config_argument
from dmm.args import MAX_HOURS, float_in_range
from dmm.cli import EXIT_FAILED, EXIT_OK, HelpFormatter, add_domino_arguments, load_config_announced, run
from dmm.ground_truth import DEFAULT_HOURS, DEFAULT_ID_COLUMN


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter,
                                     epilog="Examples:\n  python 5_upload_ground_truth.py --hours 48\n"
                                     "  python 5_upload_ground_truth.py --file labels.csv --label-column churned")
    window = parser.add_argument_group("which files (default: the last 7 days)")
    window.add_argument("--hours", type=float_in_range("--hours", 0, MAX_HOURS),
                        help=f"files dated within the last N hours (UTC date folders; default {DEFAULT_HOURS})")
    window.add_argument("--start-date", help="first UTC date to include, YYYY-MM-DD")
    window.add_argument("--end-date", help="last UTC date to include, YYYY-MM-DD (default: today)")
    window.add_argument("--file", help="register this ground-truth file (CSV, Parquet or JSON Lines) instead")
    parser.add_argument("--id-column", default=DEFAULT_ID_COLUMN, help="with --file: the column holding the event ids "
                        f"the endpoint returned (default {DEFAULT_ID_COLUMN})")
    parser.add_argument("--label-column", help="with --file: the column holding the labels (default: <target>_gt, "
                        "else the training set's target); uploaded as <target>_gt")
    parser.add_argument("--before-ingestion", action="store_true",
                        help="register even though Model Monitor has not ingested this model's predictions yet "
                        "(by default nothing is registered then, since such labels would not match)")
    parser.add_argument("--relabel", action="store_true",
                        help="register labels for event ids that already have a different registered label (what "
                        "Model Monitor does with a second label is undocumented; by default such files are refused)")
    parser.add_argument("--dry-run", action="store_true", help="print the registration payloads; send nothing")
    add_config_argument(parser)
    add_domino_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from dmm.ground_truth import GroundTruthOptions, register_ground_truth, result_lines
    from dmm.services import DominoServices

    config = load_config_announced(args.config)
    options = GroundTruthOptions(hours=args.hours, start_date=args.start_date, end_date=args.end_date, file=args.file,
                                 id_column=args.id_column, label_column=args.label_column, dry_run=args.dry_run,
                                 allow_before_ingestion=args.before_ingestion, relabel=args.relabel)
    result = register_ground_truth(config, options, DominoServices(config))
    for warning in result.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    print("\n".join(result_lines(result, config, args.file)))
    return EXIT_FAILED if result.refused else EXIT_OK


if __name__ == "__main__":
    sys.exit(run(main))
