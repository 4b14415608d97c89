"""config_loader: search order, validation, overrides, secrets."""

from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path

import pytest

import dmm.config as config_module
from config_loader import ConfigError, find_config_path, load_config, save_config
from dmm.redact import redact

ROOT = Path(__file__).resolve().parent.parent


def valid_data(**changes: dict) -> dict:
    data = {
        "domino": {"base_url": "https://domino.example.com", "user_api_key_env": "DOMINO_USER_API_KEY"},
        "model_monitor": {"model_id": "65aa11", "base_url": ""},
        "model_api": {"endpoint_url": "https://domino.example.com/models/m1/latest/model",
                      "token_env": "DOMINO_MODEL_API_TOKEN", "token": "", "timeout": 30},
        "data_sources": {"ground_truth": "gt-store", "ground_truth_type": "s3", "ground_truth_prefix": "gt"},
        "test_data": {"path": "data/test.csv", "label_column": "churned"},
        "schema": {"path": "monitoring_schema.json"},
    }
    for section, body in changes.items():
        data.setdefault(section, {}).update(body)
    return data


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Run in an empty folder and replace /mnt and /mnt/artifacts with folders under tmp_path."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(config_module, "DEFAULT_SEARCH_DIRS", (tmp_path / "mnt", tmp_path / "mnt" / "artifacts"))
    return tmp_path


# --- search order ---------------------------------------------------------------------------------------------

def test_explicit_path_wins_over_env_and_defaults(isolated):
    explicit = write(isolated / "explicit.json", valid_data(model_monitor={"model_id": "explicit"}))
    from_env = write(isolated / "env.json", valid_data(model_monitor={"model_id": "env"}))
    write(Path.cwd() / "monitoring_config.json", valid_data(model_monitor={"model_id": "cwd"}))
    config = load_config(explicit, env={"DMM_CONFIG": str(from_env)})
    assert config.model_monitor_id == "explicit"
    assert config.source_path == explicit.resolve()


def test_dmm_config_env_wins_over_current_folder(isolated):
    from_env = write(isolated / "env.json", valid_data(model_monitor={"model_id": "env"}))
    write(Path.cwd() / "monitoring_config.json", valid_data(model_monitor={"model_id": "cwd"}))
    config = load_config(env={"DMM_CONFIG": str(from_env)})
    assert config.model_monitor_id == "env"
    assert config.source_path == from_env.resolve()


def test_current_folder_then_mnt_then_mnt_artifacts(isolated):
    artifacts = write(isolated / "mnt" / "artifacts" / "monitoring_config.json",
                      valid_data(model_monitor={"model_id": "artifacts"}))
    assert load_config(env={}).source_path == artifacts.resolve()
    mnt = write(isolated / "mnt" / "monitoring_config.json", valid_data(model_monitor={"model_id": "mnt"}))
    assert load_config(env={}).source_path == mnt.resolve()
    write(Path.cwd() / "monitoring_config.json", valid_data(model_monitor={"model_id": "cwd"}))
    assert load_config(env={}).model_monitor_id == "cwd"


def test_missing_config_lists_places_and_the_wizard():
    with pytest.raises(ConfigError) as caught:
        load_config(env={})
    text = str(caught.value)
    assert "monitoring_config.json" in text and "3_setup_monitoring.py" in text
    assert str(Path.cwd()) in text and "artifacts" in text


@pytest.mark.parametrize("origin", ["--config", "$DMM_CONFIG"])
def test_named_config_that_does_not_exist_is_an_error_not_a_fallback(isolated, origin):
    write(Path.cwd() / "monitoring_config.json", valid_data())
    missing = str(isolated / "nope.json")
    with pytest.raises(ConfigError, match="does not exist"):
        if origin == "--config":
            find_config_path(missing, env={})
        else:
            find_config_path(None, env={"DMM_CONFIG": missing})


def test_add_config_argument_documents_the_search():
    parser = argparse.ArgumentParser()
    config_module.add_config_argument(parser)
    assert parser.parse_args(["--config", "x.json"]).config == "x.json"
    help_text = parser.format_help()
    assert "DMM_CONFIG" in help_text and "/mnt/artifacts" in help_text


# --- values -----------------------------------------------------------------------------------------------------

def test_attributes_and_relative_paths(isolated):
    path = write(isolated / "cfg" / "monitoring_config.json", valid_data())
    config = load_config(path, env={})
    assert config.domino_base_url == "https://domino.example.com"
    assert config.model_monitor_api_url == "https://domino.example.com/model-monitor/v2/api"
    assert config.model_api_url == "https://domino.example.com/models/m1/latest/model"
    assert config.model_api_timeout == 30.0
    assert config.ground_truth_datasource == "gt-store"
    assert config.ground_truth_prefix == "gt"
    assert config.test_data_path == isolated / "cfg" / "data" / "test.csv"
    assert config.schema_path == isolated / "cfg" / "monitoring_schema.json"
    assert config.ledger_path == path.resolve().parent / "monitoring_ledger.json"
    assert config.warnings == ()


def test_model_monitor_base_url_overrides_the_derived_one(isolated):
    path = write(isolated / "c.json", valid_data(model_monitor={"base_url": "https://dmm.example.com/model-monitor/"}))
    assert load_config(path, env={}).model_monitor_api_url == "https://dmm.example.com/model-monitor/v2/api"


ALL_KEYS = [(section, key) for section, keys in config_module.KNOWN_KEYS.items() for key in keys]


def override_value(section: str, key: str) -> str:
    dotted = f"{section}.{key}"
    if dotted in config_module.URL_KEYS:
        return "http://override.example.com:8080/path"
    if dotted in config_module.ENV_NAME_KEYS:
        return "OVERRIDE_VARIABLE"
    if dotted == "data_sources.ground_truth_type":
        return "azure_blob"  # one of Model Monitor's types; valid_data() uses s3
    if dotted == "domino.auth_method":
        return "token"
    if dotted == "model_api.kind":
        return "registry"
    return "7.5" if key == "timeout" else "override-value"


@pytest.mark.parametrize("section,key", ALL_KEYS)
def test_every_key_can_be_overridden_by_env(isolated, section, key):
    path = write(isolated / "c.json", valid_data())
    env_name = config_module.override_env_name(section, key)
    assert env_name == f"DMM_{section.upper()}_{key.upper()}"
    config = load_config(path, env={env_name: override_value(section, key)})
    expected = 7.5 if key == "timeout" else override_value(section, key)
    assert config.data[section][key] == expected
    assert load_config(path, env={}).data[section][key] != expected


def test_overrides_reach_the_attributes(isolated):
    path = write(isolated / "c.json", valid_data())
    env = {"DMM_MODEL_API_ENDPOINT_URL": "http://localhost:8080/models/m2/latest/model",
           "DMM_MODEL_MONITOR_MODEL_ID": "override-id", "DMM_MODEL_API_TIMEOUT": "7.5",
           "DMM_DATA_SOURCES_GROUND_TRUTH": "other-store"}
    config = load_config(path, env=env)
    assert config.model_api_url == "http://localhost:8080/models/m2/latest/model"
    assert config.model_monitor_id == "override-id"
    assert config.model_api_timeout == 7.5
    assert config.ground_truth_datasource == "other-store"


def test_bad_override_names_the_key(isolated):
    path = write(isolated / "c.json", valid_data())
    with pytest.raises(ConfigError, match=r"model_api\.timeout.*DMM_MODEL_API_TIMEOUT"):
        load_config(path, env={"DMM_MODEL_API_TIMEOUT": "soon"})


def test_unknown_keys_and_sections_are_named(isolated):
    data = valid_data(model_api={"endpoint": "x"})
    data["extras"] = {}
    data["_comment"] = "ignored"
    data["domino"]["_help"] = {"base_url": "ignored"}
    with pytest.raises(ConfigError) as caught:
        load_config(write(isolated / "c.json", data), env={})
    assert "unknown key model_api.endpoint" in str(caught.value)
    assert "unknown section 'extras'" in str(caught.value)
    assert "_comment" not in str(caught.value) and "_help" not in str(caught.value)


@pytest.mark.parametrize("section,key,value", [
    ("model_monitor", "model_id", "YOUR_MODEL_MONITOR_ID"),
    ("model_monitor", "model_id", "your_model_id"),
    ("data_sources", "ground_truth", "REPLACE_WITH_NAME"),
    ("data_sources", "ground_truth", "your-datasource"),
    ("domino", "base_url", "https://your-domino.example.com"),
    ("model_api", "endpoint_url", "https://d.example.com/models/YOUR_MODEL_ID/latest/model"),
])
def test_placeholders_are_errors_naming_the_key(isolated, section, key, value):
    path = write(isolated / "c.json", valid_data(**{section: {key: value}}))
    with pytest.raises(ConfigError, match=rf"{section}\.{key} still holds the placeholder"):
        load_config(path, env={})


def test_names_containing_your_elsewhere_are_not_placeholders(isolated):
    path = write(isolated / "c.json", valid_data(data_sources={"ground_truth": "find-your-data"}))
    assert load_config(path, env={}).ground_truth_datasource == "find-your-data"


@pytest.mark.parametrize("url", ["domino.example.com", "ftp://domino.example.com", "https://", "http:/x"])
def test_urls_need_http_scheme_and_host(isolated, url):
    path = write(isolated / "c.json", valid_data(domino={"base_url": url}))
    with pytest.raises(ConfigError, match=r"domino\.base_url must be an http\(s\) URL"):
        load_config(path, env={})


@pytest.mark.parametrize("timeout", [0, -3, "thirty", True])
def test_timeout_must_be_a_positive_number(isolated, timeout):
    path = write(isolated / "c.json", valid_data(model_api={"timeout": timeout}))
    with pytest.raises(ConfigError, match=r"model_api\.timeout"):
        load_config(path, env={})


def test_missing_required_key_is_named(isolated):
    data = valid_data()
    del data["model_monitor"]["model_id"]
    with pytest.raises(ConfigError, match=r"model_monitor\.model_id is missing"):
        load_config(write(isolated / "c.json", data), env={})


def test_invalid_json_names_the_line(isolated):
    path = write(isolated / "c.json", '{\n  "domino": {\n    "base_url": "https://x",\n  }\n}\n')
    with pytest.raises(ConfigError, match=r"not valid JSON \(line 4"):
        load_config(path, env={})


def test_template_fails_to_load_with_a_clear_message():
    with pytest.raises(ConfigError) as caught:
        load_config(ROOT / "monitoring_config.json.template", env={})
    text = str(caught.value)
    for key in ("domino.base_url", "model_monitor.model_id", "model_api.endpoint_url", "data_sources.ground_truth"):
        assert f"{key} still holds the placeholder" in text
    assert "unknown" not in text


def test_template_shows_and_explains_every_key():
    template = json.loads((ROOT / "monitoring_config.json.template").read_text())
    for section, keys in config_module.KNOWN_KEYS.items():
        assert set(keys) == {key for key in template[section] if not key.startswith("_")}, section
        assert set(keys) == set(template[section]["_help"]), section


# --- secrets ----------------------------------------------------------------------------------------------------

def test_missing_api_key_error_names_the_variable(isolated):
    path = write(isolated / "c.json", valid_data(domino={"user_api_key_env": "MY_DOMINO_KEY"}))
    config = load_config(path, env={})
    with pytest.raises(ConfigError, match="MY_DOMINO_KEY"):
        config.api_key()
    assert load_config(path, env={"MY_DOMINO_KEY": "key-value-123"}).api_key() == "key-value-123"


def test_model_api_token_comes_from_the_named_variable(isolated):
    path = write(isolated / "c.json", valid_data(model_api={"token_env": "ENDPOINT_TOKEN"}))
    with pytest.raises(ConfigError, match="ENDPOINT_TOKEN"):
        load_config(path, env={}).model_api_token()
    config = load_config(path, env={"ENDPOINT_TOKEN": "tok-from-env-1234"})
    assert config.model_api_token() == "tok-from-env-1234"
    assert "tok-from-env-1234" not in redact("token is tok-from-env-1234")


def test_saved_token_file_is_0600_and_loading_it_warns(isolated):
    path = save_config(valid_data(model_api={"token": "stored-secret-token-99"}), isolated / "c.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = load_config(path, env={})
    assert config.model_api_token() == "stored-secret-token-99"
    assert any("holds a Model API token" in warning for warning in config.warnings)
    assert "stored-secret-token-99" not in " ".join(config.warnings)
    assert "stored-secret-token-99" not in repr(config)
    assert "stored-secret-token-99" not in redact("x stored-secret-token-99 y")


def test_token_from_an_override_is_not_reported_as_stored(isolated):
    path = write(isolated / "c.json", valid_data())
    config = load_config(path, env={"DMM_MODEL_API_TOKEN": "override-token-5678"})
    assert config.model_api_token() == "override-token-5678"
    assert config.warnings == ()


def test_world_readable_token_file_gets_a_chmod_warning(isolated):
    path = write(isolated / "c.json", valid_data(model_api={"token": "stored-secret-token-42"}))
    path.chmod(0o644)
    assert any("chmod 600" in warning for warning in load_config(path, env={}).warnings)


def test_saved_config_without_token_is_not_private_and_round_trips(isolated):
    path = save_config(valid_data(), isolated / "sub" / "monitoring_config.json")
    assert stat.S_IMODE(path.stat().st_mode) & 0o044
    assert load_config(path, env={}).model_monitor_id == "65aa11"


def test_save_config_refuses_invalid_data_and_writes_nothing(isolated):
    with pytest.raises(ConfigError, match=r"model_monitor\.model_id"):
        save_config(valid_data(model_monitor={"model_id": "YOUR_ID"}), isolated / "c.json")
    assert not (isolated / "c.json").exists()


def test_an_unknown_auth_method_is_refused_naming_the_methods(isolated):
    data = valid_data()
    data["domino"]["auth_method"] = "password"
    with pytest.raises(ConfigError) as raised:
        load_config(write(isolated / "c.json", data), env={})
    assert raised.value.code == "config-bad-value"
    assert "domino.auth_method" in str(raised.value) and "api-proxy" in str(raised.value)


def test_model_api_kind_is_one_of_the_endpoint_kinds(isolated):
    path = write(isolated / "c.json", valid_data())
    assert load_config(path, env={}).model_api_kind == "auto"
    assert load_config(path, env={"DMM_MODEL_API_KIND": "registry"}).model_api_kind == "registry"
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={"DMM_MODEL_API_KIND": "mlflow"})
    assert caught.value.code == "config-bad-value" and "model_api.kind" in str(caught.value)
