"""What every numbered script shares: run ``main``, turn ``DmmError`` into one plain line and an exit code.

Exit codes: 0 success; 1 a check failed or work was incomplete; 2 bad input (flags, files, config);
3 a Domino service refused or could not be reached; 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from dmm.errors import ApiError, DmmError, UsageError
from dmm.redact import redact

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SERVICE = 3
EXIT_INTERRUPTED = 130


TRACE_HELP = ("append one JSON line per HTTP exchange with Domino (ours and Domino's own clients'; secrets, tokens "
              "and URL signatures masked) to FILE (default: $DMM_TRACE)")
AUTH_HELP = ("how to authenticate to Domino: auto (the API proxy, an access token from domino.auth_token_env, the "
             "token file, then the API key: python-domino's order) or exactly one method (default: "
             "domino.auth_method, else auto)")
AUTH_TOKEN_ENV_HELP = ("the environment variable holding a Domino access token (a service account's token, say) "
                       "for --auth token and auto (default: domino.auth_token_env); its value is never printed")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every script's ``--help``: the description and the examples kept as written (line breaks are the author's,
    so an example command is never re-wrapped), and flag help wrapped only at spaces: ``api-key`` or ``--base-url``
    is never split at its hyphen (textwrap's ``break_on_hyphens``)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)


def add_domino_arguments(parser: argparse.ArgumentParser) -> None:
    """``--trace FILE`` and ``--auth METHOD``, shared by every numbered script (``run`` acts on them)."""
    from dmm.auth import CHOICES

    group = parser.add_argument_group("reaching Domino")
    group.add_argument("--trace", metavar="FILE", help=TRACE_HELP)
    group.add_argument("--auth", choices=CHOICES, metavar="METHOD", help=AUTH_HELP + f"; one of {', '.join(CHOICES)}")
    group.add_argument("--auth-token-env", metavar="NAME", help=AUTH_TOKEN_ENV_HELP)


def check_auth_token_env(name: str | None) -> None:
    """``--auth-token-env NAME`` names an environment variable (every step, and the wizard's own option)."""
    from dmm.config import is_env_name

    if name is not None and not is_env_name(name):
        raise UsageError(f"--auth-token-env {name!r} is not an environment variable name",
                         "Name the variable that holds the access token, e.g. --auth-token-env "
                         "DOMINO_SERVICE_ACCOUNT_TOKEN", code="flag-invalid")


def _apply_domino_arguments(argv: Sequence[str] | None) -> None:
    """Start the trace and pick the auth method before ``main`` runs, so every Domino call sees them (``run`` puts
    the method's environment variable back when ``main`` returns)."""
    from dmm import trace
    from dmm.auth import CHOICES, METHOD_ENV, TOKEN_ENV_ENV

    words = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--trace")
    parser.add_argument("--auth", choices=CHOICES)
    parser.add_argument("--auth-token-env")
    known, _rest = parser.parse_known_args(words)  # a bad --auth value: UsageError via plain_argparse_errors
    check_auth_token_env(known.auth_token_env)
    if known.auth:
        os.environ[METHOD_ENV] = known.auth  # the config's DMM_<SECTION>_<KEY> override of domino.auth_method
    if known.auth_token_env:
        os.environ[TOKEN_ENV_ENV] = known.auth_token_env  # likewise, of domino.auth_token_env
    trace.start(known.trace)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


def quiet_library_logging() -> None:
    """A root handler at WARNING that redacts, installed before any client library configures logging.

    python-domino's ``Domino`` calls ``logging.basicConfig(level=$DOMINO_LOG_LEVEL or INFO)`` (domino/domino.py
    ``_configure_logging``); from then on httpx logs every request's URL at INFO, signed object-store URLs included.
    ``basicConfig`` does nothing once the root logger has a handler, so this one keeps the level and the redaction."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.addFilter(_RedactingFilter())
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call ``main(argv)``; print user errors as one sentence on stderr, never a traceback."""
    from dmm import trace
    from dmm.auth import METHOD_ENV, TOKEN_ENV_ENV

    quiet_library_logging()
    before = {name: os.environ.get(name) for name in (METHOD_ENV, TOKEN_ENV_ENV)}
    try:
        with plain_argparse_errors():
            _apply_domino_arguments(argv)
            return int(main(argv) or 0)
    except DmmError as error:
        print(f"Error: {redact(str(error))}", file=sys.stderr)
        if isinstance(error, ApiError) and trace.path() is not None:
            print(f"The exchanges with Domino are in the trace {trace.path()}", file=sys.stderr)
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
    finally:
        trace.stop()
        for name, value in before.items():  # --auth and --auth-token-env act for this run only (in-process
            if value is None:              # callers such as tests share os.environ)
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _argparse_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    text = message[:1].upper() + message[1:]
    raise UsageError(text, f"See python {parser.prog} --help for the flags", code="flag-invalid")


@contextmanager
def plain_argparse_errors() -> Iterator[None]:
    """argparse's own refusals (a missing required flag, an unknown flag, a value outside ``choices``) become one
    ``UsageError`` (``flag-invalid``) for ``run`` to print, instead of a usage block and ``prog: error: ...``.
    ``ArgumentParser.error`` is argparse's documented hook for this; it is restored afterwards."""
    original = argparse.ArgumentParser.error
    argparse.ArgumentParser.error = _argparse_error  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.error = original  # type: ignore[method-assign]


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
    """Progress on stderr, opened at the first update (so validation errors print cleanly); a context manager.

    In a terminal it is a tqdm bar. Elsewhere (a Domino Job's log, CI, a pipe) a bar's carriage returns would pile
    up into one unreadable line, so it writes a plain line at most every ``interval`` seconds, and a last one."""

    def __init__(self, total: int, description: str, unit: str = "it", *, interval: float = 30.0,
                 stream: Any = None) -> None:
        self.total, self.description, self.unit = total, description, unit
        self.interval, self.stream = interval, stream
        self.bar: Any = None

    def update(self, _outcome: object = None) -> None:
        if self.bar is None:
            stream = self.stream or sys.stderr
            if _is_terminal(stream):
                from tqdm import tqdm

                self.bar = tqdm(total=self.total, unit=self.unit, file=stream, desc=self.description, leave=False)
            else:
                self.bar = LineProgress(self.total, self.description, self.unit, self.interval, stream)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def files_progress(total: int) -> ProgressBar:
    """Step 6's pass over the captured prediction files, on stderr (``ScanPlan.progress``)."""
    return ProgressBar(total, "Reading captured predictions", unit="file")


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class LineProgress:
    """Plain progress lines ("Predictions: 250/1,000 req (25%)"), one at most every ``interval`` seconds and one at
    the end: what a Job's log shows well."""

    def __init__(self, total: int, description: str, unit: str, interval: float, stream: Any) -> None:
        import time

        self.total, self.description, self.unit, self.interval, self.stream = total, description, unit, interval, stream
        self.done, self.shown = 0, -1
        self.clock = time.monotonic
        self.last = self.clock()

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.clock() - self.last >= self.interval:
            self._line()

    def _line(self) -> None:
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        self.stream.write(f"{self.description}: {self.done:,}/{self.total:,} {self.unit}{share}\n")
        self.stream.flush()
        self.shown, self.last = self.done, self.clock()

    def close(self) -> None:
        if self.done and self.shown != self.done:
            self._line()
