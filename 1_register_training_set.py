"""Step 1: register the training data as a Domino training set (the drift baseline) and write monitoring_schema.json.

Reads CSV/TSV, Parquet or JSON Lines. Nothing is guessed from column names: the model type (from the target's
values) and the categorical columns (from their dtypes) are inferred, shown as a plan marked "(inferred)", and
registered only after you confirm (or pass --yes). --dry-run prints the plan and sends nothing.

Example:
  python 1_register_training_set.py --file train.csv --name churn-baseline --target churned --key customer_id
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dmm.cli import EXIT_FAILED, EXIT_OK, HelpFormatter, add_domino_arguments, confirm, run
from dmm.dataio import SUPPORTED, read_table
from dmm.schema import SCHEMA_FILE_NAME, check_schema_path, default_schema_path
from dmm.training_set_rerun import write_schema


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="1_register_training_set.py", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--file", required=True, metavar="PATH", help=f"the training data ({SUPPORTED})")
    parser.add_argument("--name", required=True, help="training set name: letters, digits, '-' and '_' only; "
                        "a new version is added when the name exists")
    parser.add_argument("--target", required=True, metavar="COLUMN",
                        help="the column the model predicts; the endpoint captures its prediction under this name")
    parser.add_argument("--model-type", choices=("classification", "regression"), help="default: inferred from "
                        "the target (text, booleans or at most 20 distinct integers mean classification)")
    parser.add_argument("--categorical", action="append", default=[], metavar="COLUMNS", help="feature columns to "
                        "treat as categorical in addition to the text/boolean/category columns found from dtypes; "
                        "repeatable or comma-separated")
    parser.add_argument("--timestamp", metavar="COLUMN", help="event times: checked, not a feature, not registered "
                                                                "(capture has its own)")
    parser.add_argument("--key", action="append", default=[], metavar="COLUMNS",
                        help="row ids: not features, not registered (capture has its own event_id); repeatable")
    parser.add_argument("--exclude", action="append", default=[], metavar="COLUMNS",
                        help="columns to leave out; they are dropped, not registered; repeatable")
    parser.add_argument("--description", help="a description stored with the version")
    parser.add_argument("--schema-out", metavar="PATH", help="where to write the schema (default: next to "
                        f"monitoring_config.json if one is found, else ./{SCHEMA_FILE_NAME})")
    parser.add_argument("--yes", "-y", action="store_true", help="register without asking for confirmation")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop; nothing is sent")
    add_domino_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from dmm import training_set as steps  # pandas loads here, not for --help

    schema_path = check_schema_path(args.schema_out or default_schema_path())  # before reading a large file
    frame = read_table(args.file)
    columns = {flag: steps.split_columns(getattr(args, flag)) for flag in ("categorical", "key", "exclude")}
    plan = steps.plan_training_set(frame, name=args.name, target=args.target, model_type=args.model_type,
                                   timestamp=args.timestamp, description=args.description, **columns)
    steps.validate_plan(plan, frame)
    print(f"Read {len(frame)} rows and {len(frame.columns)} columns from {args.file}.")
    print("\n".join([*steps.plan_lines(plan), f"Schema file:   {schema_path}"]))
    if args.dry_run:
        print("Dry run: nothing was sent. Rerun without --dry-run to register.")
        return EXIT_OK

    steps.check_environment()
    if not confirm(f"Register this as a new version of training set '{plan.name}'?", args.yes):
        print("Nothing was registered.")
        return EXIT_FAILED
    version = steps.register_training_set(plan, frame)
    print("\n".join([*write_schema(schema_path, plan, version), f"Wrote the monitoring schema to {schema_path}."]))
    print("Next: optionally export your model with 2_export_model.py; add the capture lines of "
          "prediction_capture_example.py to your endpoint's predict() and deploy it; then run "
          "python 3_setup_monitoring.py.")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run(main))
