"""Issue 9's goals on a small soak (the full one is `make soak`): under 20% injected faults and with step 4 killed
mid-run and step 5 killed at a random moment, no answered label is lost, none is registered twice, every captured
prediction (besides the probes) has a label, and no secret or signature reaches an output or a file.

Steps needing a second try are reported, not asserted: Domino's own clients (training sets, data sources) are
retried by issue 8's transport layer, not by this branch."""

from __future__ import annotations

import pytest
from demos import CachedDemo

from example.soak import run_soak

pytestmark = pytest.mark.e2e


def test_small_soak_meets_the_goals(tmp_path, trained_models, step_server):
    trained = trained_models("classification")

    def make_demo(running, work):
        return CachedDemo(running, work, trained=trained, reuse_export=True, steps=step_server)

    # Retry-After: 0 on the 429s: each throttled request is still refused and retried, without a second's wait each
    figures = run_soak(tmp_path, seeds=1, count=15, rate=0.2, kinds=["act-then-fail", "429"], budget=600, tries=5,
                       make_demo=make_demo, retry_after_s=0)
    report = "\n".join(figures.lines())
    assert figures.answered > 0 and figures.registered >= figures.answered, report
    assert figures.lost == 0, report
    assert figures.registered_twice == 0, report
    assert figures.unlabelled == 0, report
    assert figures.secrets == [], report
    assert not figures.failed_steps, report
    assert any(kind.startswith("step 4") for kind in figures.kills), report  # a kill landed mid-run
