"""dmm/redact.py and dmm/cli.py: secrets masked; one `Error:` line and the right exit code; confirm; config banner."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dmm.config as config_module
from dmm import cli
from dmm.errors import ApiError, ConfigError, DmmError, NotFoundError, UsageError
from dmm.redact import mask, redact, register_secret

# --- redact ------------------------------------------------------------------------------------------------

def test_registered_secret_is_masked_everywhere_in_text():
    register_secret("redact-test-secret-AbC123xyz")
    text = redact("key=redact-test-secret-AbC123xyz and again redact-test-secret-AbC123xyz.")
    assert text == "key=**** and again ****."


@pytest.mark.parametrize("name", ["DOMINO_USER_API_KEY", "DOMINO_MODEL_API_TOKEN"])
def test_secret_from_the_environment_is_masked(monkeypatch, name):
    value = f"env-secret-for-{name.lower()}-9x8y"
    monkeypatch.setenv(name, value)
    assert redact(f"sent {value}!") == "sent ****!"


def test_environment_secret_is_forgotten_once_unset(monkeypatch):
    value = "env-secret-gone-later-4r5t"
    monkeypatch.setenv("DOMINO_USER_API_KEY", value)
    assert value not in redact(value)
    monkeypatch.delenv("DOMINO_USER_API_KEY")
    assert redact(value) == value


@pytest.mark.parametrize("text, secret_part", [
    ("X-Domino-Api-Key: unregistered-key-1", "unregistered-key-1"),
    ("x-domino-api-key=unregistered-key-2", "unregistered-key-2"),
    ("{'X-Domino-Api-Key': 'unregistered-key-3'}", "unregistered-key-3"),
    ('{"Authorization": "Basic dW5yZWdpc3RlcmVk"}', "dW5yZWdpc3RlcmVk"),
    ("Authorization: Bearer unregistered.jwt.value", "unregistered.jwt.value"),
])
def test_auth_header_values_are_masked_even_when_not_registered(text, secret_part):
    result = redact(text)
    assert secret_part not in result
    assert "****" in result


@pytest.mark.parametrize("text, expected", [
    ("GET /x with X-Domino-Api-Key: k-1234567 failed", "GET /x with X-Domino-Api-Key: **** failed"),
    ("sent Authorization: Basic dXNlcjpwYXNz then failed", "sent Authorization: **** then failed"),
    ("sent Authorization: Bearer a.b.c then failed", "sent Authorization: **** then failed"),
])
def test_header_masking_keeps_the_rest_of_the_text(text, expected):
    assert redact(text) == expected


def test_short_values_are_not_treated_as_secrets(monkeypatch):
    register_secret("abc")
    monkeypatch.setenv("DOMINO_MODEL_API_TOKEN", "xyz")
    assert redact("abc and xyz stay") == "abc and xyz stay"


def test_redact_passes_empty_text_through():
    assert redact("") == ""


def test_longer_secret_masked_before_a_shorter_one_inside_it():
    register_secret("nest")
    register_secret("nested-secret-value-1")
    assert redact("nested-secret-value-1") == "****"


@pytest.mark.parametrize("value, masked", [
    ("abcdefghijkl", "****ijkl"), ("123456789", "****6789"), ("12345678", "****"), ("ab", "****"), ("", "****"),
])
def test_mask(value, masked):
    assert mask(value) == masked


# --- cli.run -----------------------------------------------------------------------------------------------

def raising(error: BaseException):
    def main(argv):
        raise error
    return main


def error_lines(captured) -> list[str]:
    return [line for line in captured.err.splitlines() if line.strip()]


@pytest.mark.parametrize("error, code", [
    (UsageError("The file data.csv is empty", "Pass a file with rows"), 2),
    (ConfigError("monitoring_config.json holds a placeholder", "Fill it in"), 2),
    (ApiError("Reading the model failed with HTTP 500", "Try again", status=500), 3),
    (NotFoundError("No model m1", "Check the id", status=404), 3),
    (DmmError("2 checks failed", "See above"), 1),
])
def test_run_prints_one_error_line_and_returns_the_exit_code(capsys, error, code):
    assert cli.run(raising(error), []) == code
    captured = capsys.readouterr()
    assert error_lines(captured) == [f"Error: {error}"]
    assert captured.out == ""


def test_run_passes_argv_and_returns_mains_code():
    seen = []

    def main(argv):
        seen.append(argv)
        return 1

    assert cli.run(main, ["--yes"]) == 1
    assert seen == [["--yes"]]
    assert cli.run(lambda argv: None, []) == 0


def test_run_on_keyboard_interrupt_returns_130(capsys):
    assert cli.run(raising(KeyboardInterrupt()), []) == 130
    assert len(error_lines(capsys.readouterr())) == 1


def test_run_on_eof_returns_2_with_the_yes_hint(capsys):
    assert cli.run(raising(EOFError()), []) == 2
    lines = error_lines(capsys.readouterr())
    assert len(lines) == 1
    assert lines[0].startswith("Error: ") and "--yes" in lines[0]


def test_run_redacts_a_secret_inside_an_error(capsys):
    register_secret("cli-test-secret-QwErTy987")
    assert cli.run(raising(ApiError("Key cli-test-secret-QwErTy987 was refused", "Check it")), []) == 3
    captured = capsys.readouterr()
    assert "cli-test-secret-QwErTy987" not in captured.err + captured.out
    assert error_lines(captured) == ["Error: Key **** was refused. Check it."]


def test_run_does_not_swallow_programming_errors():
    with pytest.raises(ZeroDivisionError):
        cli.run(lambda argv: 1 / 0, [])


# --- confirm -----------------------------------------------------------------------------------------------

class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def no_input(prompt=""):
    raise AssertionError("confirm() must not ask")


def test_confirm_with_assume_yes_does_not_ask(monkeypatch):
    monkeypatch.setattr("builtins.input", no_input)
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    assert cli.confirm("Register it?", assume_yes=True) is True


def test_confirm_without_a_terminal_raises_instead_of_hanging(monkeypatch):
    monkeypatch.setattr("builtins.input", no_input)
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    with pytest.raises(DmmError) as caught:
        cli.confirm("Register it?", assume_yes=False)
    assert "--yes" in caught.value.advice


@pytest.mark.parametrize("answer, expected", [("y", True), (" YES ", True), ("", False), ("n", False), ("yep", False)])
def test_confirm_in_a_terminal_reads_the_answer(monkeypatch, answer, expected):
    monkeypatch.setattr(sys, "stdin", FakeTty())
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or answer)
    assert cli.confirm("Register it?", assume_yes=False) is expected
    assert prompts == ["Register it? [y/N] "]


# --- load_config_announced ---------------------------------------------------------------------------------

def valid_config(token: str = "") -> dict:
    return {
        "domino": {"base_url": "https://domino.example.com", "user_api_key_env": "DOMINO_USER_API_KEY"},
        "model_monitor": {"model_id": "65aa11", "base_url": ""},
        "model_api": {"endpoint_url": "https://domino.example.com/models/m1/latest/model",
                      "token_env": "DOMINO_MODEL_API_TOKEN", "token": token, "timeout": 30},
        "data_sources": {"ground_truth": "gt-store", "ground_truth_type": "s3", "ground_truth_prefix": "gt"},
        "test_data": {"path": "", "label_column": ""},
        "schema": {"path": "monitoring_schema.json"},
    }


@pytest.fixture
def isolated_config_env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("DMM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config_module, "DEFAULT_SEARCH_DIRS", (tmp_path / "mnt",))
    return tmp_path


def test_load_config_announced_names_the_file(isolated_config_env, capsys):
    path = isolated_config_env / "cfg" / "monitoring_config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(valid_config()))
    config = cli.load_config_announced(str(path))
    captured = capsys.readouterr()
    assert config.model_monitor_id == "65aa11"
    assert captured.out.splitlines() == [f"Using config {path.resolve()}"]
    assert captured.err == ""


def test_load_config_announced_prints_warnings_without_the_token(isolated_config_env, capsys):
    token = "stored-model-token-LmNoP456"
    path = isolated_config_env / "monitoring_config.json"
    path.write_text(json.dumps(valid_config(token=token)))
    path.chmod(0o644)
    config = cli.load_config_announced(None)  # found in the current folder
    captured = capsys.readouterr()
    assert f"Using config {Path(path).resolve()}" in captured.out
    warnings = [line for line in captured.err.splitlines() if line]
    assert len(warnings) == len(config.warnings) >= 2
    assert all(line.startswith("Warning: ") for line in warnings)
    assert any("chmod 600" in line for line in warnings)
    assert token not in captured.out + captured.err


def test_client_library_logging_stays_quiet_and_redacted():
    """python-domino's Domino() calls logging.basicConfig(level=INFO); httpx then logs each request's URL, signed
    object-store URLs included (found by the soak in step 6's output). dmm.cli.run's root handler comes first."""
    code = ("import logging\n"
            "from dmm.cli import quiet_library_logging\n"
            "quiet_library_logging()\n"
            "logging.basicConfig(level=logging.INFO)\n"
            "logging.getLogger('httpx').info('GET http://h/o?method=GET&signature=abc123 200')\n"
            "logging.getLogger('other').warning('GET http://h/o?signature=def456 failed')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "abc123" not in done.stderr and "def456" not in done.stderr
    assert "failed" in done.stderr  # warnings still reach the user, redacted
