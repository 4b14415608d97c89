"""Step 3: write monitoring_config.json, checking every answer against Domino as it is given.

Asks for each value (defaults come from the environment, an existing config and the monitoring schema), or takes
every answer as a flag; with --yes it runs unattended and fails on the first answer that does not check out.
Secrets are not written: the API key and the Model API token stay in environment variables.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Mapping, Sequence

from config_loader import CONFIG_FILE_NAME
from dmm.cli import run
from dmm.wizard import ConsoleIO, LiveChecks, WizardOptions, next_step_hint, run_wizard


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="3_setup_monitoring.py",
        description="Write monitoring_config.json for steps 4-6. Asks for each value (press Enter for the default "
                    "in brackets) unless it is given as a flag; unless --offline, checks each answer live against "
                    "Domino and asks again when a check fails.",
        epilog="Secrets are read from the environment: the Domino API key from DOMINO_USER_API_KEY and the "
               "endpoint's access token from the variable named by --token-env. Example, unattended: "
               "python 3_setup_monitoring.py --yes --base-url https://domino.example.com --model-id 65a1... "
               "--endpoint-url https://domino.example.com/models/65b2.../latest/model --datasource gt-store")
    answers = parser.add_argument_group("answers (each replaces one question)")
    answers.add_argument("--base-url", metavar="URL",
                         help="Domino's external URL, as opened in a browser (default: the existing config, "
                              "else DOMINO_API_HOST); Model Monitor is reached at URL/model-monitor")
    answers.add_argument("--model-id", metavar="ID",
                         help="the Model Monitor model id (Model Monitor > your model, or the endpoint's Monitoring "
                              "tab; it is the last part of the page URL)")
    answers.add_argument("--schema", metavar="PATH",
                         help="the monitoring schema written by step 1 (default: monitoring_schema.json next to "
                              "the config)")
    answers.add_argument("--token-env", metavar="NAME",
                         help="the environment variable holding the endpoint's access token "
                              "(default: DOMINO_MODEL_API_TOKEN)")
    answers.add_argument("--endpoint-url", metavar="URL",
                         help="the endpoint's URL (Endpoints > your endpoint > Overview), e.g. "
                              "https://domino.example.com/models/<id>/latest/model")
    answers.add_argument("--datasource", metavar="NAME",
                         help="the ground-truth data source: a Domino data source and a Model Monitor data source "
                              "registered under this same name")
    answers.add_argument("--datasource-type", metavar="TYPE",
                         help="its type in Model Monitor: s3, generic_s3, azure_blob, azure_data_lake, gcs, ... "
                              "(default: what Model Monitor reports, else s3)")
    answers.add_argument("--test-data", metavar="PATH",
                         help="optional labelled test file (CSV, Parquet or JSON Lines) that step 4 sends to the "
                              "endpoint; an empty value means none")
    answers.add_argument("--label-column", metavar="NAME",
                         help="the test file's label column (default: the schema's target)")
    behaviour = parser.add_argument_group("behaviour")
    behaviour.add_argument("--output", metavar="PATH", default=CONFIG_FILE_NAME,
                           help=f"where to write the config (default: ./{CONFIG_FILE_NAME})")
    behaviour.add_argument("--config", metavar="PATH",
                           help="start from this existing config (default: the first found in $DMM_CONFIG, "
                                f"./{CONFIG_FILE_NAME}, /mnt/, /mnt/artifacts/)")
    behaviour.add_argument("--offline", action="store_true",
                           help="skip the live checks (only URL syntax, placeholders and local files are checked)")
    behaviour.add_argument("--yes", action="store_true",
                           help="ask nothing: take flags and defaults, and stop with an error (writing nothing) at "
                                "the first answer that fails its check")
    behaviour.add_argument("--dry-run", action="store_true",
                           help="print the config that would be written (secrets masked) and write nothing")
    behaviour.add_argument("--store-token", action="store_true",
                           help="also store the token from --token-env's variable in the file (not recommended; "
                                "the file is then written with mode 0600)")
    return parser


def main(argv: Sequence[str] | None = None, *, input_fn: Callable[[str], str] = input,
         print_fn: Callable[[str], None] = print, env: Mapping[str, str] | None = None,
         checks: LiveChecks | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = WizardOptions(**vars(args))
    outcome = run_wizard(options, ConsoleIO(input_fn, print_fn), env=env, checks=checks)
    if outcome.written:
        print_fn(f"Wrote {outcome.path}.")
        print_fn(f"Next step: {next_step_hint(outcome)}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
