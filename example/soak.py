"""The soak (``make soak``): the whole path under faults, with step 4 and step 5 killed at random moments, and the
figures issue 9 asks for. Everything runs against one local sandbox on 127.0.0.1, within ``--budget`` seconds.

Per seed and fault kind (503s, 429 with Retry-After, "act, then fail", jitter; each at ``--rate`` on every Domino
route group): steps 1 and 3 again (they must register nothing new), step 4 (and, every other round, a step 4 killed
with SIGKILL or SIGINT mid-run, then run again), ingestion, step 5 (every other round killed once), step 6. A step
that fails is run again (up to ``--tries``); each second try is counted. Then, over the sandbox's and the workspace's
own records:

- labels answered (a model answer in a journal) / kept (answered or maybe captured) / registered (the ledger) /
  matched (registered and captured), and labels answered but never registered (lost);
- event ids registered twice (in two ground-truth datasets the monitor holds, or twice in one);
- captured predictions without a registered label;
- secrets or signatures found in any step's output or any file the steps wrote.

``python -m example.soak --seeds 2 --count 40 --budget 900``; exit 0 when the goals hold (0 lost, 0 twice,
0 unlabelled, no secret; second tries are reported, not failed: retrying Domino's own clients is issue 8's).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmm.checks.probes import PROBE_EVENT_PREFIX
from dmm.redact import UNMASKED_SIGNED_URL_PARAM
from example.demo import Demo, StepFailed
from sandbox.monitor_data import ROW_ID
from sandbox.testing import RunningSandbox

DOMINO_GROUPS = ("core", "trainingset", "datasource", "objectstore", "monitor", "modelapi", "metrics")


def fault_kinds(rate: float, retry_after_s: int = 1) -> dict[str, dict[str, Any]]:
    """The fault of each kind; ``retry_after_s`` is the 429s' ``Retry-After`` (0, "retry at once", in the tests: the
    throttled requests are still refused and retried, without the wall-clock wait)."""
    return {"503": {"failRate": rate}, "429": {"throttleRate": rate, "retryAfterS": retry_after_s},
            "act-then-fail": {"actThenFailRate": rate}, "jitter": {"latencyMs": 5, "jitterMs": 60}}


SIGNATURE = UNMASKED_SIGNED_URL_PARAM  # dmm.redact's one list of URL credentials, unmasked
SCANNED_SUFFIXES = {".json", ".jsonl", ".csv", ".html", ".txt", ".log", ".env"}


@dataclass
class Figures:
    second_tries: Counter = field(default_factory=Counter)
    failed_steps: Counter = field(default_factory=Counter)
    kills: Counter = field(default_factory=Counter)
    rounds: list[str] = field(default_factory=list)
    answered: int = 0
    kept: int = 0
    registered: int = 0
    matched: int = 0
    lost: int = 0
    registered_twice: int = 0
    unlabelled: int = 0
    captured: int = 0
    probes: int = 0
    secrets: list[str] = field(default_factory=list)

    @property
    def goals_met(self) -> bool:
        return not (self.lost or self.registered_twice or self.unlabelled or self.secrets)

    def lines(self) -> list[str]:
        tries = ", ".join(f"{step} {n}" for step, n in sorted(self.second_tries.items())) or "none"
        gave_up = ", ".join(f"{step} {n}" for step, n in sorted(self.failed_steps.items())) or "none"
        return [f"Rounds: {len(self.rounds)} ({', '.join(self.rounds)}); kills: {dict(self.kills) or 'none'}",
                f"Steps that needed a second try: {tries}",
                f"Steps still failing after every try: {gave_up}",
                f"Labels: answered {self.answered}, kept {self.kept} (answered or maybe captured), registered "
                f"{self.registered}, matched {self.matched} of {self.captured} captured predictions",
                f"Answered but never registered (lost): {self.lost}",
                f"Event ids registered twice: {self.registered_twice}",
                f"Captured predictions without a label: {self.unlabelled} (besides {self.probes} probe(s) of steps 3 "
                "and 6, event ids dmm-probe-*, never labelled by design)",
                f"Secrets or signatures found: {len(self.secrets)}" + (f" ({'; '.join(self.secrets[:5])})"
                                                                        if self.secrets else ""),
                "Goals (0 lost, 0 twice, 0 unlabelled, no secret): " + ("met" if self.goals_met else "NOT met")]


class Soak:
    def __init__(self, demo: Demo, figures: Figures, rng: random.Random, tries: int) -> None:
        self.demo, self.figures, self.rng, self.tries = demo, figures, rng, tries

    def step(self, name: str, action: Any) -> bool:
        """Run ``action`` until it succeeds (at most ``tries`` times); count the second tries."""
        for attempt in range(self.tries):
            try:
                action()
                return True
            except StepFailed:
                if attempt == 0:
                    self.figures.second_tries[name] += 1
                time.sleep(1)
        self.figures.failed_steps[name] += 1
        return False

    def faults(self, spec: dict[str, Any]) -> None:
        self.demo.sandbox.admin("faults", **{group: spec for group in DOMINO_GROUPS})

    def killed(self, name: str, args: Sequence[Any], after_lines: int = 0) -> None:
        """Start a step, and stop it with SIGKILL or SIGINT at a random moment: once a new journal of step 4 has
        ``after_lines`` lines (mid-run, for sure), else after a random delay (it may have finished by then)."""
        demo = self.demo
        journals = demo.work_dir / "label_journals"
        before = set(journals.glob("*.jsonl")) if journals.is_dir() else set()
        process = demo.spawn([sys.executable, *map(str, args)])
        if after_lines:
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                new = set(journals.glob("*.jsonl")) - before if journals.is_dir() else set()
                if any(sum(1 for _ in open(path)) >= after_lines for path in new):
                    break
                time.sleep(0.05)
        else:
            time.sleep(self.rng.uniform(0.5, 4.0))
        how = self.rng.choice([signal.SIGKILL, signal.SIGINT])
        if process.poll() is None:
            process.send_signal(how)
            self.figures.kills[f"{name} {how.name}"] += 1
        out, err = process.communicate(timeout=300)
        demo.runs.append(type(demo.runs[0])(f"{name} killed", [], process.returncode, out, err, 0.0))

    def round(self, kind: str, spec: dict[str, Any], count: int, kill: bool) -> None:
        demo = self.demo
        self.figures.rounds.append(kind + (" +kill" if kill else ""))
        self.faults(spec)
        self.step("step 1", demo.register_training_set)
        self.step("step 3", demo.setup_monitoring)
        if kill:
            self.killed("step 4", [demo.script("4_generate_predictions.py"), "--count", count * 5],
                        after_lines=self.rng.randint(2, count * 2))
        self.step("step 4", lambda: demo.generate_predictions(count))
        self.faults({})
        demo.ingest()
        self.faults(spec)
        if kill:
            self.killed("step 5", [demo.script("5_upload_ground_truth.py")])
        self.step("step 5", demo.upload_ground_truth)
        self.step("step 6", demo.check_monitoring)

    def finish(self) -> None:
        """Fault-free: ingest and run step 5 once more, so every label that can be registered is."""
        self.faults({})
        self.demo.ingest()
        self.step("step 5 (final)", self.demo.upload_ground_truth)


def measure(demo: Demo, figures: Figures, secrets: Sequence[str]) -> None:
    import pandas as pd

    from dmm.journal import iter_journals

    answered: set[str] = set()
    kept: set[str] = set()
    for journal in iter_journals(demo.work_dir / "label_journals"):
        answered |= {str(a["event_id"]) for a in journal.answers.values()}
        kept |= {row[0] for row in journal.labels()}
    ledger = json.loads((demo.work_dir / "monitoring_ledger.json").read_text())
    registered = set(ledger.get("labels", {}).get(demo.dmm_model_id, {}))
    state = json.loads((demo.sandbox.state_dir / "state.json").read_text())
    in_monitor: Counter = Counter()
    for stored in state["dmm_models"][demo.dmm_model_id]["_groundTruthFiles"]:
        path = Path(stored) if Path(stored).is_absolute() else demo.sandbox.state_dir / stored
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
        in_monitor.update(str(v) for v in frame[ROW_ID].tolist())
    captured = {str(r.get("event_id")) for r in demo.captured_records()}
    probes = {event_id for event_id in captured if event_id.startswith(PROBE_EVENT_PREFIX)}
    captured -= probes  # steps 3 and 6 probe the endpoint with a sample row: never labelled, by design
    figures.probes = len(probes)
    monitor_ids = set(in_monitor)
    figures.answered, figures.kept, figures.registered = len(answered), len(kept), len(monitor_ids)
    figures.captured = len(captured)
    figures.matched = len(captured & monitor_ids)
    figures.lost = len(answered - monitor_ids)
    figures.registered_twice = sum(1 for n in in_monitor.values() if n > 1)
    figures.unlabelled = len(captured - monitor_ids)
    figures.secrets = find_secrets(demo, secrets)
    figures.lost = max(figures.lost, len(registered - monitor_ids))  # the ledger claims more than the monitor has


def find_secrets(demo: Demo, secrets: Sequence[str]) -> list[str]:
    found = []
    texts = [(f"{run.name} output", run.stdout + run.stderr) for run in demo.runs]
    texts += [(str(path.relative_to(demo.work_dir)), path.read_text(errors="replace"))
              for path in demo.work_dir.rglob("*") if path.is_file() and path.suffix in SCANNED_SUFFIXES
              and "data" not in path.relative_to(demo.work_dir).parts[:1]]
    for where, text in texts:
        for secret in secrets:
            if secret and secret in text:
                found.append(f"a secret in {where}")
        if SIGNATURE.search(text):
            found.append(f"a signature in {where}")
    return found


def run_soak(work: Path, seeds: int, count: int, rate: float, kinds: Sequence[str], budget: float, tries: int,
             echo: bool = False, make_demo: Callable[[RunningSandbox, Path], Demo] | None = None,
             retry_after_s: int = 1) -> Figures:
    """``make_demo(sandbox, work_dir)`` builds the demo (the tests pass one whose model is already trained);
    ``retry_after_s``: see ``fault_kinds``."""
    started = time.monotonic()
    figures = Figures()
    with RunningSandbox(work / "sandbox", extra_args=["--seed", "11"]) as running:
        demo = make_demo(running, work / "workspace") if make_demo else Demo(running, work / "workspace", echo=echo)
        demo.prepare_model()
        demo.register_training_set()
        demo.export_model()
        demo.deploy_and_attach()
        demo.setup_monitoring()
        soak = Soak(demo, figures, random.Random(seeds), tries)
        every = fault_kinds(rate, retry_after_s)
        for seed in range(seeds):
            soak.rng.seed(seed)
            for number, kind in enumerate(kinds):
                if time.monotonic() - started > budget:
                    break
                soak.round(kind, every[kind], count, kill=(seed + number) % 2 == 1)
        soak.finish()
        state = json.loads((running.state_dir / "state.json").read_text())
        secrets = [running.api_key, demo.deployment.get("accessToken", ""), state.get("_objectstore_secret", "")]
        measure(demo, figures, secrets)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="rounds of every fault kind (default 2)")
    parser.add_argument("--count", type=int, default=40, help="requests per step 4 run (default 40)")
    parser.add_argument("--rate", type=float, default=0.2, help="fault rate per route group (default 0.2)")
    parser.add_argument("--kinds", default="503,429,act-then-fail,jitter", help="fault kinds, comma-separated")
    parser.add_argument("--budget", type=float, default=900, help="no new round starts after this many seconds")
    parser.add_argument("--tries", type=int, default=4, help="runs of a failing step before giving up (default 4)")
    parser.add_argument("--work", type=Path, default=None, help="folder to keep (default: a temporary one)")
    parser.add_argument("--echo", action="store_true", help="show every step's output")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = set(kinds) - set(fault_kinds(args.rate))
    if unknown or not 0 <= args.rate <= 1 or args.seeds < 1 or args.count < 1:
        print(f"Error: bad options (unknown kinds: {sorted(unknown)}); see --help", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="dmm-soak-") as scratch:
        work = args.work or Path(scratch)
        started = time.monotonic()
        figures = run_soak(work, args.seeds, args.count, args.rate, kinds, args.budget, args.tries, args.echo)
        print("\n".join([f"Soak: {args.seeds} seed(s) x {', '.join(kinds)} at {args.rate:.0%} on every Domino route "
                         f"group, {args.count} requests per step 4 ({time.monotonic() - started:.0f} s)",
                         *figures.lines()]))
    return 0 if figures.goals_met else 1


if __name__ == "__main__":
    sys.exit(main())
