"""Step 3: write monitoring_config.json, checking every answer against Domino as it is given.

Asks for each value (defaults come from the environment, an existing config and the monitoring schema), or takes
every answer as a flag; with --yes it runs unattended and fails on the first answer that does not check out.
Secrets are not written: the API key and the Model API token stay in environment variables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence

from config_loader import CONFIG_FILE_NAME
from dmm.cli import HelpFormatter, add_domino_arguments, run
from dmm.wizard import QUESTIONS, ConsoleIO, LiveChecks, WizardOptions, next_step_hint, run_wizard


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="3_setup_monitoring.py", formatter_class=HelpFormatter,
        description="Step 3: write monitoring_config.json for steps 4-6. Asks for each value (press Enter for the\n"
                    "default in brackets) unless it is given as a flag; unless --offline, checks each answer live\n"
                    "against Domino and asks again when a check fails.",
        epilog="Secrets are read from the environment: the Domino API key from DOMINO_USER_API_KEY and the\n"
               "endpoint's access token from the variable named by --token-env (asked for, hidden, when unset).\n\n"
               "Example, unattended:\n"
               "  python 3_setup_monitoring.py --yes --base-url https://domino.example.com --model-id 65a1... \\\n"
               "    --endpoint-url https://domino.example.com/models/65b2.../latest/model --datasource gt-store")
    answers = parser.add_argument_group("answers (each replaces one question)")
    for question in QUESTIONS:
        answers.add_argument(question.flag, metavar=question.metavar, help=question.help)
    behaviour = parser.add_argument_group("behaviour")
    behaviour.add_argument("--output", metavar="PATH", default=CONFIG_FILE_NAME,
                           help=f"where to write the config (default: ./{CONFIG_FILE_NAME})")
    behaviour.add_argument("--config", metavar="PATH",
                           help="start from this existing config (default: the first found in $DMM_CONFIG, "
                                f"./{CONFIG_FILE_NAME}, /mnt/, /mnt/artifacts/)")
    behaviour.add_argument("--offline", action="store_true",
                           help="skip the live checks (only URL syntax, placeholders and local files are checked)")
    behaviour.add_argument("--yes", "-y", action="store_true",
                           help="ask nothing: take flags and defaults, and stop with an error (writing nothing) at "
                                "the first answer that fails its check")
    behaviour.add_argument("--dry-run", action="store_true",
                           help="print the config that would be written (secrets masked) and write nothing")
    behaviour.add_argument("--store-token", action="store_true",
                           help="also store the token from --token-env's variable in the file (not recommended; "
                                "the file is then written with mode 0600)")
    behaviour.add_argument("--no-probe", action="store_true",
                           help="send the endpoint no sample row (its probe is captured as a prediction, event id "
                                "dmm-probe-...); the endpoint is then not checked")
    add_domino_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None, *, input_fn: Callable[[str], str] = input,
         print_fn: Callable[[str], None] = print, env: Mapping[str, str] | None = None,
         checks: LiveChecks | None = None, getpass_fn: Callable[[str], str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = WizardOptions(**vars(args))
    io = ConsoleIO(input_fn, print_fn) if getpass_fn is None else ConsoleIO(input_fn, print_fn, getpass_fn)
    outcome = run_wizard(options, io, env=env, checks=checks)
    if outcome.written:
        print_fn(f"Wrote {outcome.path}.")
        print_fn(f"Next step: {next_step_hint(outcome)}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
