"""Rules stated once: --auth-token-env's name check is the same for every step and the wizard."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dmm.cli import _apply_domino_arguments
from dmm.errors import UsageError
from dmm.wizard_session import check_token_env


def test_auth_token_env_is_refused_alike_by_the_steps_and_the_wizard():
    with pytest.raises(UsageError) as by_step:
        _apply_domino_arguments(["--auth-token-env", "not a name"])
    session = SimpleNamespace(options=SimpleNamespace(auth_token_env="not a name"), env={}, live=False)
    with pytest.raises(UsageError) as by_wizard:
        check_token_env(session)  # type: ignore[arg-type]
    assert (by_wizard.value.message, by_wizard.value.advice, by_wizard.value.code) == \
        (by_step.value.message, by_step.value.advice, by_step.value.code) and by_step.value.code == "flag-invalid"
