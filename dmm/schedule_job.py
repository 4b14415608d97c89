"""Create the Domino scheduled Job that runs step 6 every day: python -m dmm.schedule_job --dry-run, then --yes.

Idempotent: a schedule of the same command (found in Domino, or in scheduled_jobs.json next to the config) is
reported, not created again. Exit codes: 0 done or already there; 2 bad input; 3 Domino refused.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dmm.cli import HelpFormatter, add_domino_arguments, confirm, run
from dmm.config import add_config_argument, load_config
from dmm.job_schedule import (
    DEFAULT_COMMAND,
    DEFAULT_CRON,
    DEFAULT_TITLE,
    RECORD_FILE,
    ScheduledJobs,
    check_timezone,
    plan_job,
    quartz_cron,
    schedule_job,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dmm.schedule_job", description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter,
        epilog=f"Example: python -m dmm.schedule_job --cron \"{DEFAULT_CRON}\" --environment-id 6512ab... --dry-run")
    add_config_argument(parser)
    parser.add_argument("--command", default=DEFAULT_COMMAND, help=f"what the Job runs (default: {DEFAULT_COMMAND})")
    parser.add_argument("--cron", default=DEFAULT_CRON,
                        help=f"minute hour day-of-month month day-of-week (default \"{DEFAULT_CRON}\": 06:00 daily)")
    parser.add_argument("--timezone", default="UTC", help="the schedule's time zone, e.g. Europe/London (default UTC)")
    parser.add_argument("--hardware-tier", help="hardware tier id (default: $DOMINO_HARDWARE_TIER_ID, this run's)")
    parser.add_argument("--environment-id", help="compute environment id (the one this workspace runs in)")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="the Job's title in Domino")
    parser.add_argument("--notify", action="append", default=[], metavar="EMAIL",
                        help="email address told when a run completes; repeatable")
    parser.add_argument("--dry-run", action="store_true", help="show the Job and whether it exists; create nothing")
    parser.add_argument("--yes", "-y", action="store_true", help="create without asking for confirmation")
    add_domino_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quartz_cron(args.cron)  # the flags before the config, so that a typo is what the user hears about first
    check_timezone(args.timezone)
    config = load_config(args.config)
    plan = plan_job(command=args.command, cron=args.cron, timezone=args.timezone, hardware_tier=args.hardware_tier,
                    environment_id=args.environment_id, title=args.title, notify=tuple(args.notify),
                    env=config.env)
    from dmm import hosts
    from dmm.auth import RequestsAuth
    from dmm.http import ApiClient, make_session

    base = hosts.custom_metrics(config.domino_base_url, config.env)  # Domino's REST API, where python-domino looks
    client = ApiClient(base, make_session(auth=RequestsAuth(config.credentials()), client="dmm-jobs"))
    outcome = schedule_job(plan, ScheduledJobs(client), config.source_path.parent / RECORD_FILE, dry_run=args.dry_run,
                           approve=lambda: confirm("Create this scheduled Job?", args.yes))
    print("\n".join(outcome.lines))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
