"""Step 4: send labelled test traffic to the deployed Model API and keep the ground truth that matches it.

Sampled rows' features (never the label) are sent with an event_id of our own (a retry is the same prediction).
Each label goes to a journal (label_journals/<run id>.jsonl beside the config) as its answer arrives, then to
ground_truth/<run id>.csv, uploaded as <prefix>/<model id>/<UTC date>/<run id>.csv and recorded in the ledger.
Ctrl-C or SIGTERM stops sending at once; step 5 (or this step again) finishes an unfinished journal.

Exit codes: 0 all requests succeeded; 1 some failed after retries (ground truth for the rest is still written);
2 bad input; 3 a Domino service refused or could not be reached; 130 interrupted (the labels are kept).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from config_loader import add_config_argument
from dmm import args as limits
from dmm.cli import EXIT_FAILED, EXIT_OK, HelpFormatter, ProgressBar, add_domino_arguments, load_config_announced, run
from dmm.redact import redact


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter, epilog=(
        "Example:\n  python 4_generate_predictions.py --count 500 --file test.csv --label-column churned"))
    parser.add_argument("--count", type=limits.int_in_range("--count", 1, limits.MAX_COUNT), default=100,
                        help="number of requests to send (rows are sampled; default 100)")
    parser.add_argument("--file", help="test data (CSV, Parquet or JSON Lines) with the features and a label column "
                        "(default: test_data.path in the config)")
    parser.add_argument("--label-column", help="column holding the true label (default: test_data.label_column in the "
                        "config, else the training set's target)")
    parser.add_argument("--concurrency", type=limits.int_in_range("--concurrency", 1, limits.MAX_CONCURRENCY),
                        default=4, help="requests in flight at once (default 4)")
    parser.add_argument("--rate", type=limits.float_in_range("--rate", 0, limits.MAX_RATE),
                        help="at most this many requests per second (default: no limit)")
    parser.add_argument("--seed", type=limits.int_in_range("--seed", 0, limits.MAX_SEED),
                        help="random seed for sampling rows, for a repeatable run")
    parser.add_argument("--timeout", type=limits.float_in_range("--timeout", 0, limits.MAX_TIMEOUT),
                        help="seconds to wait for each response (default: model_api.timeout)")
    parser.add_argument("--dry-run", action="store_true", help="validate and show what would be sent; send nothing")
    parser.add_argument("--no-upload", action="store_true", help="write the ground truth locally only")
    add_config_argument(parser)
    add_domino_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from dmm.services import DominoServices
    from dmm.traffic import TrafficOptions, dry_run_lines, generate_traffic, summary_lines, upload_failed_lines

    config = load_config_announced(args.config)
    options = TrafficOptions(count=args.count, file=args.file, label_column=args.label_column,
                             concurrency=args.concurrency, rate=args.rate, seed=args.seed, timeout=args.timeout,
                             dry_run=args.dry_run, upload=not args.no_upload)
    with ProgressBar(args.count, "Predictions", unit="req") as progress:
        result = generate_traffic(config, options, DominoServices(config), on_result=progress.update)

    if result.dry_run:
        print("\n".join(dry_run_lines(result, args.count, config.model_api_url)))
        print(json.dumps(result.example_payload, indent=2, default=str))
        return EXIT_OK
    print("\n".join(summary_lines(result, config.model_api_url)))
    if result.upload_error:
        print(f"Error: {redact(str(result.upload_error))}", file=sys.stderr)
        print("\n".join(upload_failed_lines(result)))
        return result.upload_error.exit_code
    if result.ground_truth_key:
        print(f"Uploaded to data source {result.datasource!r} as {result.ground_truth_key}")
        print("Next: once Domino has ingested these predictions (it does so daily), run "
              "python 5_upload_ground_truth.py")
    return EXIT_FAILED if result.summary and result.summary.failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(run(main))
