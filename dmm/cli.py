"""What every numbered script shares: run ``main``, turn ``DmmError`` into one plain line and an exit code.

Exit codes: 0 success; 1 a check failed or work was incomplete; 2 bad input (flags, files, config);
3 a Domino service refused or could not be reached; 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from dmm.errors import DmmError
from dmm.redact import redact

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SERVICE = 3
EXIT_INTERRUPTED = 130


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call ``main(argv)``; print user errors as one sentence on stderr, never a traceback."""
    try:
        return int(main(argv) or 0)
    except DmmError as error:
        print(f"Error: {redact(str(error))}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # a disk full, read-only or forbidden: one sentence naming the path, no traceback
        from dmm.files import describe_os_error

        message, advice = describe_os_error(error, atomic=False)
        print(f"Error: {redact(message)}. {redact(advice)}.", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("Interrupted; nothing further was changed.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except EOFError:
        print("Error: input ended while a question was waiting for an answer. "
              "Pass the answers as flags and add --yes to run unattended.", file=sys.stderr)
        return EXIT_USAGE


def load_config_announced(path: str | None = None):
    """Load the monitoring config, saying which file it came from and any warning about it."""
    from dmm.config import load_config

    config = load_config(path)
    print(f"Using config {config.source_path}")
    for warning in config.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    return config


def confirm(question: str, assume_yes: bool) -> bool:
    """Ask a yes/no question unless ``--yes`` was given; refuse (rather than hang) when stdin is not a terminal."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise DmmError("This step needs confirmation but is not running in a terminal",
                       "Review the plan with --dry-run, then rerun with --yes", code="confirmation-needed")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


class ProgressBar:
    """A tqdm bar on stderr, opened at the first update (so validation errors print cleanly); a context manager."""

    def __init__(self, total: int, description: str, unit: str = "it") -> None:
        self.total, self.description, self.unit = total, description, unit
        self.bar: Any = None

    def update(self, _outcome: object = None) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit=self.unit, file=sys.stderr, desc=self.description, leave=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
