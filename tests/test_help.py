"""Every numbered script's --help (issue 12): it opens with "Step N:", its examples are shown as written (never
re-wrapped mid-flag), flag help is never split at a hyphen, and -y works wherever --yes does; and the sandbox's
--help lists every admin verb on one line, with attach-training-set refusing a bad flag in one plain sentence."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from sandbox.__main__ import VERBS
from sandbox.app import create_app
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxState
from sandbox.testing import PROJECT_ROOT, load_script

SCRIPTS = ["1_register_training_set", "2_export_model", "3_setup_monitoring", "4_generate_predictions",
           "5_upload_ground_truth", "6_check_monitoring"]


def help_text(command: list[str], columns: int = 80) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run([sys.executable, *command, "--help"], capture_output=True, text=True, cwd=PROJECT_ROOT,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_opens_with_the_step_and_keeps_examples_whole(name):
    text = help_text([f"{name}.py"])
    description = text.split("\n\n")[1]  # after the usage block
    assert description.startswith(f"Step {name[0]}:"), description
    parser = load_script(name).build_parser()
    written = f"{parser.description or ''}\n{parser.epilog or ''}"
    examples = [line.strip() for line in written.splitlines() if line.strip().startswith("python ")]
    assert examples, "the help shows at least one example command"
    for example in examples:
        assert example in text, f"example re-wrapped: {example}"
    for line in text.splitlines():  # a hyphenated word or flag is never broken across lines
        assert not re.search(r"[A-Za-z0-9]-$", line), f"split at a hyphen: {line!r}"


@pytest.mark.parametrize("name", SCRIPTS)
def test_y_is_accepted_wherever_yes_is(name):
    parser = load_script(name).build_parser()
    yes = [action for action in parser._actions if "--yes" in action.option_strings]
    for action in yes:
        assert "-y" in action.option_strings


def test_the_wizard_takes_y():
    args = load_script("3_setup_monitoring").build_parser().parse_args(["-y", "--offline"])
    assert args.yes is True


# --- the sandbox's command line -----------------------------------------------------------------------------------

def test_sandbox_help_lists_every_verb_on_one_line():
    text = help_text(["-m", "sandbox"])
    for verb, spec in VERBS.items():
        lines = [line for line in text.splitlines() if line.strip().startswith(verb + " ")]
        assert len(lines) == 1 and spec.line in lines[0], verb
        assert len(lines[0]) <= 120


def test_every_admin_route_is_a_listed_verb(tmp_path):
    app = create_app(SandboxState(tmp_path / "state"), SandboxSettings(seed=1))
    routes = {rule.rule.removeprefix("/sandbox/") for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/sandbox/")}
    assert routes == set(VERBS)


@pytest.mark.parametrize("argv,said", [
    (["--model-id", "m"], "attach-training-set does not take --model-id"),
    (["--modelId", "m", "--trainingSetName", "t", "--modelType", "classification"],
     "attach-training-set needs --trainingSetVersion"),
    (["--modelId", "m", "--trainingSetName", "t", "--trainingSetVersion", "v1", "--modelType", "classification"],
     '--trainingSetVersion "v1" is not a version number'),
    (["--modelId", "m", "--trainingSetName", "t", "--trainingSetVersion", "1", "--modelType", "binary"],
     '--modelType "binary" is not one of classification, regression'),
])
def test_attach_training_set_refuses_bad_flags_plainly(tmp_path, argv, said):
    result = subprocess.run([sys.executable, "-m", "sandbox", "attach-training-set", "--state", str(tmp_path), *argv],
                            capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert result.returncode == 2
    err = result.stderr.strip()
    assert err.startswith("Error: ") and said in err and "\n" not in err and "Traceback" not in err
    assert "Usage: python -m sandbox attach-training-set --modelId ID" in err
