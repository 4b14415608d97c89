"""Step 2: (optional) export a model from MLflow as a deployable artifact, with a manifest of where it came from.

Choose the model one way:
  --run-id ID                                     a specific run
  --experiment NAME --metric M [--mode max|min]   the best run of an experiment by a logged metric
  --model-name N (--version V | --alias A)        a version of a registered model

The logged model is found in the run (MLflow 3 logged models or MLflow 2 run artifacts); no artifact path is
assumed. sklearn models are written as model.pkl (joblib); other flavours as the MLflow model folder model/;
model_manifest.json records where it came from. --wrap-capture NAME also registers the model wrapped with
prediction capture as NAME, for a Model Registry endpoint. Honours MLFLOW_TRACKING_URI (preset inside Domino).

Example:
  python 2_export_model.py --experiment churn --metric roc_auc --output-dir .
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dmm.cli import EXIT_OK, HelpFormatter, add_domino_arguments, run
from dmm.dataio import check_output_dir
from dmm.mlflow_export import MANIFEST_NAME, choose_model, export_model, tracking_uri
from dmm.mlflow_wrap import check_wrap, wrap_capture, wrap_lines
from dmm.paths import check_output_file


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="2_export_model.py", description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--run-id", help="export the model logged in this run")
    parser.add_argument("--experiment", metavar="NAME", help="pick the best run of this experiment (with --metric)")
    parser.add_argument("--metric", metavar="M", help="the logged metric that ranks the runs, e.g. roc_auc")
    parser.add_argument("--mode", choices=("max", "min"), default="max",
                        help="whether the best run has the highest (max, default) or lowest (min) metric")
    parser.add_argument("--model-name", metavar="N", help="a registered model (with --version or --alias)")
    parser.add_argument("--version", metavar="V", help="the registered model's version number")
    parser.add_argument("--alias", metavar="A", help="the registered model's alias, e.g. champion")
    parser.add_argument("--output-dir", default=".", metavar="DIR",
                        help="where to write model.pkl (or model/) and model_manifest.json (default: .)")
    parser.add_argument("--wrap-capture", metavar="NAME", help="also register the model wrapped with prediction "
                        "capture as NAME, to deploy it from the Model Registry (prediction_capture_example.py)")
    parser.add_argument("--schema", metavar="PATH", help="--wrap-capture's monitoring schema (default: step 1's)")
    parser.add_argument("--dry-run", action="store_true", help="show which model would be exported and stop")
    add_domino_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_output_dir(args.output_dir)  # cheap input first: a bad folder is refused before MLflow is contacted
    check_output_file(Path(args.output_dir) / MANIFEST_NAME, "--output-dir")
    schema = check_wrap(args.wrap_capture, args.schema)
    choice = choose_model(run_id=args.run_id, experiment=args.experiment, metric=args.metric, mode=args.mode,
                          model_name=args.model_name, version=args.version, alias=args.alias)
    print(f"Tracking server: {tracking_uri()}")
    print(f"Run:             {choice.run_id} (experiment '{choice.experiment_name}')")
    if choice.metric_name:
        print(f"Chosen by:       {choice.mode} {choice.metric_name} = {choice.metric_value}")
    if choice.registered_model:
        print(f"Registered:      {choice.registered_model['name']} version {choice.registered_model['version']}")
    print(f"Model:           {choice.model_uri} (flavour {choice.flavour})")
    if args.dry_run:
        print(f"Dry run: nothing was written; {choice.artifact_name} and model_manifest.json would go to "
              f"{Path(args.output_dir).resolve()}")
        return EXIT_OK
    result = export_model(choice, args.output_dir)
    print(f"Wrote {result.model_path} and {result.manifest_path}.")
    print("\n".join(wrap_lines(wrap_capture(choice, schema, args.wrap_capture))) if schema and args.wrap_capture
          else "Next: deploy it as a Domino Model API whose predict() includes the capture lines of "
          "prediction_capture_example.py.")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run(main))
