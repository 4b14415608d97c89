"""``python -m sandbox``: run the local Domino sandbox and call its admin verbs.

    python -m sandbox serve [--state DIR] [--host 127.0.0.1] [--port N] [--api-key K] [--fail-rate F]
                            [--latency-ms MS] [--fault GROUP:RATE:MS ...] [--seed S]
                            [--profile NAME] [--profile-option KEY=true|false ...]
    python -m sandbox start [same options]      # in the background; prints `export NAME=value` lines
    python -m sandbox stop  [--state DIR]
    python -m sandbox env   [--state DIR]       # prints the lines again
    python -m sandbox profiles                  # the kinds of Domino deployment --profile can stand for
    python -m sandbox <verb> [--state DIR] [--json '{...}'] [--KEY VALUE ...]   # POST /sandbox/<verb>

Verbs (what a user does in Domino's UI; `python -m sandbox <verb> --help` shows a verb's flags):
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmm.cli import HelpFormatter, run
from dmm.errors import UsageError
from sandbox import server
from sandbox.profiles import DEFAULT_PROFILE, PROFILE_OPTIONS, PROFILES, Profile, get_profile
from sandbox.routes.datasources import OBJECT_STORE_TYPES
from sandbox.settings import ROUTE_GROUPS, Fault, SandboxSettings

LIFECYCLE = ("serve", "start", "stop", "env", "profiles")
# Groups a user means by "the Domino services"; the sandbox's own control verbs stay reliable.
DOMINO_GROUPS = tuple(group for group in ROUTE_GROUPS if group not in ("admin", "admin_models"))


def _add_state(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", type=Path, default=server.DEFAULT_STATE_DIR,
                        help="folder holding the sandbox's state (default: ./.sandbox)")


def _server_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m sandbox {command}")
    _add_state(parser)
    parser.add_argument("--host", default=server.DEFAULT_HOST, help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port (serve: default {server.DEFAULT_PORT}; start: a free one)")
    parser.add_argument("--api-key", action="append", default=None,
                        help="accepted API key (repeatable; the first is exported; default: sandbox-api-key)")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of Domino requests answered 503")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to every Domino request")
    parser.add_argument("--fault", action="append", default=[], metavar="GROUP:SPEC",
                        help=f"fault for one route group ({', '.join(ROUTE_GROUPS)} or '*'): {FAULT_SPEC_HELP}; "
                             "repeatable")
    parser.add_argument("--seed", type=int, default=None, help="seed for the fault dice")
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help=f"the Domino deployment to behave as: {', '.join(PROFILES)} (default {DEFAULT_PROFILE}; "
                             "python -m sandbox profiles describes them)")
    parser.add_argument("--profile-option", action="append", default=[], metavar="KEY=true|false",
                        help=f"switch one reading of Domino the profile leaves open ({', '.join(PROFILE_OPTIONS)})")
    return parser


def _profile(args: argparse.Namespace) -> Profile:
    options: dict[str, bool] = {}
    for spec in args.profile_option:
        key, _, value = spec.partition("=")
        if key not in PROFILE_OPTIONS or value.lower() not in ("true", "false"):
            raise UsageError(f"Bad --profile-option {spec!r}",
                             f"Use KEY=true or KEY=false with KEY one of {', '.join(PROFILE_OPTIONS)}")
        options[key] = value.lower() == "true"
    if args.profile not in PROFILES:
        raise UsageError(f"Unknown --profile {args.profile!r}", f"Use one of {', '.join(PROFILES)} "
                         "(python -m sandbox profiles describes them)")
    return get_profile(args.profile, options)


def _faults(args: argparse.Namespace) -> dict[str, Fault]:
    if not 0 <= args.fail_rate <= 1 or args.latency_ms < 0:
        raise UsageError("--fail-rate must be from 0 to 1 and --latency-ms at least 0", "Fix the value and retry")
    faults = {}
    if args.fail_rate or args.latency_ms:
        faults = {group: Fault(args.fail_rate, args.latency_ms) for group in DOMINO_GROUPS}
    for spec in args.fault:
        group, fault = parse_fault_spec(spec)
        faults[group] = fault
    return faults


FAULT_SPEC_HELP = ("GROUP:RATE:MS, or GROUP:key=value,... with keys fail, latency, jitter, throttle, retry-after, "
                   "act-then-fail (e.g. datasource:fail=0.2,throttle=0.1,act-then-fail=0.1,jitter=50)")
_SPEC_KEYS = {"fail": ("fail_rate", float, 1.0), "latency": ("latency_ms", int, 60_000),
              "jitter": ("jitter_ms", int, 60_000), "throttle": ("throttle_rate", float, 1.0),
              "retry-after": ("retry_after_s", int, 3600), "act-then-fail": ("act_then_fail_rate", float, 1.0)}


def parse_fault_spec(spec: str) -> tuple[str, Fault]:
    """``--fault`` for one route group (or ``*``): the short ``GROUP:RATE:MS`` or the named ``GROUP:key=value,...``."""
    group, _, rest = spec.partition(":")
    bad = UsageError(f"Bad --fault {spec!r}", f"Use {FAULT_SPEC_HELP}, with GROUP one of {', '.join(ROUTE_GROUPS)}")
    if group != "*" and group not in ROUTE_GROUPS:
        raise bad
    values: dict[str, float | int] = {}
    try:
        if "=" in rest:
            for item in filter(None, rest.split(",")):
                key, _, text = item.partition("=")
                name, kind, upper = _SPEC_KEYS[key.strip()]
                values[name] = kind(text)
                if not 0 <= values[name] <= upper:
                    raise bad
        else:
            rate, _, latency = rest.partition(":")
            values = {"fail_rate": float(rate or 0), "latency_ms": int(latency or 0)}
            if not 0 <= values["fail_rate"] <= 1 or values["latency_ms"] < 0:
                raise bad
    except (KeyError, ValueError):
        raise bad from None
    return group, Fault(**values)  # type: ignore[arg-type]


def _settings(args: argparse.Namespace) -> SandboxSettings:
    # popped, so that the model processes the sandbox starts do not inherit the keys
    keys = args.api_key or [key for key in os.environ.pop(server.API_KEYS_ENV, "").split("\n") if key]
    settings = SandboxSettings(seed=args.seed, faults=_faults(args), profile=_profile(args))
    if keys:
        settings.api_keys = tuple(keys)
    return settings


def _serve_args(args: argparse.Namespace) -> list[str]:
    """The options ``start`` passes on to ``serve`` (API keys travel in the environment instead)."""
    forwarded = ["--fail-rate", str(args.fail_rate), "--latency-ms", str(args.latency_ms)]
    for spec in args.fault:
        forwarded += ["--fault", spec]
    if args.seed is not None:
        forwarded += ["--seed", str(args.seed)]
    forwarded += ["--profile", args.profile]
    for spec in args.profile_option:
        forwarded += ["--profile-option", spec]
    return forwarded


def _lifecycle(command: str, argv: list[str]) -> int:
    if command == "profiles":
        argparse.ArgumentParser(prog="python -m sandbox profiles").parse_args(argv)
        print("\n".join(profile.line for profile in PROFILES.values()))
        return 0
    if command in ("serve", "start"):
        args = _server_parser(command).parse_args(argv)
        settings = _settings(args)  # validates the options before anything starts
        if command == "serve":
            def announce(url: str, env: dict[str, str]) -> None:
                print(f"# Domino sandbox on {url} (state: {args.state.resolve()}); Ctrl-C to stop", flush=True)
                if sys.stdout.isatty():  # not when `start` sends output to sandbox.log: the key stays in sandbox.env
                    print(server.format_env(env), end="", flush=True)
                else:
                    print(f"# exports in {args.state.resolve() / server.ENV_FILE}", flush=True)

            server.serve(args.state, settings, args.host, args.port or server.DEFAULT_PORT, on_ready=announce)
            return 0
        env = server.start(args.state, _serve_args(args), settings.api_keys, args.port, args.host)
        print(server.format_env(env), end="")
        return 0
    parser = argparse.ArgumentParser(prog=f"python -m sandbox {command}")
    _add_state(parser)
    args = parser.parse_args(argv)
    if command == "stop":
        stopped = server.stop(args.state)
        print("sandbox stopped" if stopped else f"no sandbox was running for {args.state}")
        return 0
    print(server.format_env(server.read_env(args.state)), end="")
    return 0


@dataclass(frozen=True)
class Verb:
    """One admin verb: its line in ``--help``, and its flags (``None``: free-form, the route validates them)."""

    line: str
    required: dict[str, str] = field(default_factory=dict)  # flag -> what it takes
    optional: dict[str, str] = field(default_factory=dict)
    free_form: bool = False
    paths: tuple[str, ...] = ()  # flags naming a file or folder: resolved against the caller's folder, not the server's

    def usage(self, name: str) -> str:
        flags = [f"--{k} {v}" for k, v in self.required.items()] + [f"[--{k} {v}]" for k, v in self.optional.items()]
        return f"python -m sandbox {name} {' '.join(flags)}".rstrip()

    def check(self, name: str, payload: dict[str, Any]) -> None:
        """A plain UsageError for an unknown or missing flag, or a value of the wrong kind, before any request."""
        if self.free_form:
            return
        usage = f"Usage: {self.usage(name)}"
        unknown = [key for key in payload if key not in self.required and key not in self.optional]
        if unknown:
            raise UsageError(f"{name} does not take --{unknown[0]}", usage, code="flag-invalid")
        missing = [key for key in self.required if key not in payload]
        if missing:
            raise UsageError(f"{name} needs --{missing[0]}", usage, code="flag-invalid")
        for key, kind in {**self.required, **self.optional}.items():
            value = payload.get(key)
            if value is None:
                continue
            wrong = (kind == "N" and (isinstance(value, bool) or not isinstance(value, int) or value < 1)) or (
                "|" in kind and value not in kind.split("|")) or (kind == "JSON" and not isinstance(value, dict))
            if wrong:
                raise UsageError(f"{name}: --{key} {json.dumps(value)} is not "
                                 f"{_KINDS.get(kind, 'one of ' + kind.replace('|', ', '))}",
                                 usage, code="flag-invalid")


_KINDS = {"N": "a version number (1, 2, ...)", "JSON": "a JSON object, e.g. '{\"KEY\": \"value\"}'"}

# Every route of sandbox/routes/admin.py and admin_models.py (tests/test_sandbox_cli.py holds the two to each other).
VERBS: dict[str, Verb] = {
    "deploy": Verb("deploy a file's predict() as an endpoint; prints its id, URL and access token",
                   {"name": "NAME", "script": "FILE.py"}, {"workdir": "DIR", "env": "JSON", "function": "NAME"},
                   paths=("workdir",)),
    "attach-training-set": Verb("create the endpoint's monitor from a training-set version; prints dmmModelId",
                                {"modelId": "ID", "trainingSetName": "NAME", "trainingSetVersion": "N",
                                 "modelType": "classification|regression"}),
    "create-datasource": Verb("create a Domino object-store data source (Data > Data Sources)", {"name": "NAME"},
                              {"type": "|".join(OBJECT_STORE_TYPES)}),
    "ingest": Verb("run Model Monitor's daily ingestion of captured predictions now"),
    "status": Verb("show what the sandbox holds: endpoints, monitors, data sources, faults"),
    "faults": Verb("inject failures and latency per route group (--json '{\"datasource\": {\"failRate\": 0.2}}')",
                   free_form=True),
    "monitor-options": Verb("switch a reading of Domino the contract leaves open (sandbox/monitor_options.py)",
                            free_form=True),
}


def _verb(verb: str, argv: list[str]) -> int:
    known = VERBS.get(verb)
    parser = argparse.ArgumentParser(prog=f"python -m sandbox {verb}", formatter_class=HelpFormatter,
                                     description=known.line if known else None,
                                     epilog=f"Usage: {known.usage(verb)}" if known and not known.free_form else None)
    _add_state(parser)
    parser.add_argument("--json", default=None, help="the request body as a JSON object")
    args, rest = parser.parse_known_args(argv)
    payload = {}
    if args.json is not None:
        try:
            payload = json.loads(args.json)
        except ValueError as error:
            raise UsageError(f"--json is not valid JSON ({error})",
                             "Quote it, e.g. --json '{\"name\": \"x\"}'") from None
        if not isinstance(payload, dict):
            raise UsageError("--json must be a JSON object", "Wrap the values in {...}")
    payload.update(server.parse_verb_options(rest))
    if known is not None:
        known.check(verb, payload)
        for key in known.paths:
            if isinstance(payload.get(key), str):
                payload[key] = str(Path(payload[key]).expanduser().resolve())
        if verb == "deploy" and "workdir" not in payload and isinstance(payload.get("script"), str):
            payload["script"] = str(Path(payload["script"]).expanduser().resolve())
    answer = server.admin(args.state, verb, payload, method="GET" if verb == "status" else "POST")
    print(json.dumps(answer, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        width = max(map(len, VERBS)) + 2
        print(__doc__.strip() + "\n" + "\n".join(f"    {name:<{width}}{verb.line}" for name, verb in VERBS.items()))
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command.startswith("-"):
        raise UsageError(f"Expected a command before {command!r}", "Run: python -m sandbox --help")
    return _lifecycle(command, rest) if command in LIFECYCLE else _verb(command, rest)


if __name__ == "__main__":
    sys.exit(run(main))
