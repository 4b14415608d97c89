"""The sandbox's fault injection (issue 9): 503s, 429 with Retry-After, jitter and "act, then fail" per route group,
from the admin verb and the command line; its state file is private; unknown Model API ids need credentials first."""

from __future__ import annotations

import base64
import stat

import pytest

from dmm.errors import UsageError
from sandbox import monitor_options
from sandbox.__main__ import parse_fault_spec
from sandbox.app import create_app
from sandbox.settings import Fault, SandboxSettings
from sandbox.state import SandboxState

API = "/model-monitor/v2/api"
KEY = {"X-Domino-Api-Key": "sandbox-api-key"}


@pytest.fixture
def app(tmp_path):
    monitor_options.reset()
    return create_app(SandboxState(tmp_path / "state"), SandboxSettings(seed=1))


def set_faults(client, **groups):
    answer = client.post("/sandbox/faults", json=groups, headers=KEY)
    assert answer.status_code == 200, answer.json
    return answer.json["faults"]


def test_throttle_answers_429_with_retry_after_and_changes_nothing(app):
    client = app.test_client()
    set_faults(client, monitor={"throttleRate": 1.0, "retryAfterS": 7})
    answer = client.put(f"{API}/datasource", json={"name": "gt", "type": "s3"}, headers=KEY)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    set_faults(client, monitor={})
    assert client.get(f"{API}/datasources", headers=KEY).json == []


def test_act_then_fail_changes_the_state_and_loses_the_answer(app):
    client = app.test_client()
    set_faults(client, monitor={"actThenFailRate": 1.0})
    answer = client.put(f"{API}/datasource", json={"name": "gt", "type": "s3"}, headers=KEY)
    assert answer.status_code == 502
    set_faults(client, monitor={})
    names = [source["name"] for source in client.get(f"{API}/datasources", headers=KEY).json]
    assert names == ["gt"]


def test_faults_are_per_route_group_and_seeded(tmp_path):
    def statuses(seed: int) -> list[int]:
        monitor_options.reset()
        app = create_app(SandboxState(tmp_path / f"s{seed}-{len(list(tmp_path.iterdir()))}"),
                         SandboxSettings(seed=seed, faults={"monitor": Fault(fail_rate=0.5)}))
        client = app.test_client()
        assert client.get("/sandbox/status", headers=KEY).status_code == 200  # admin untouched
        return [client.get(f"{API}/datasources", headers=KEY).status_code for _ in range(40)]

    first = statuses(3)
    assert set(first) == {200, 503}
    assert statuses(3) == first


def test_admin_verb_refuses_unknown_keys_and_out_of_range_values(app):
    client = app.test_client()
    assert client.post("/sandbox/faults", json={"monitor": {"oops": 1}}, headers=KEY).status_code == 400
    assert client.post("/sandbox/faults", json={"monitor": {"throttleRate": 2}}, headers=KEY).status_code == 400
    view = set_faults(client, datasource={"failRate": 0.2, "jitterMs": 30, "actThenFailRate": 0.1})
    assert view["datasource"]["jitterMs"] == 30 and view["datasource"]["actThenFailRate"] == 0.1


def test_command_line_spec_short_and_named_forms():
    assert parse_fault_spec("monitor:0.2:50") == ("monitor", Fault(fail_rate=0.2, latency_ms=50))
    group, fault = parse_fault_spec("*:fail=0.2,throttle=0.1,retry-after=2,act-then-fail=0.05,jitter=40")
    assert group == "*"
    assert fault == Fault(fail_rate=0.2, throttle_rate=0.1, retry_after_s=2, act_then_fail_rate=0.05, jitter_ms=40)
    for bad in ("nogroup:0.1:0", "monitor:fail=2", "monitor:bogus=1", "monitor:x:y"):
        with pytest.raises(UsageError):
            parse_fault_spec(bad)


def test_state_file_is_private(tmp_path):
    state = SandboxState(tmp_path / "state")
    with state.transaction() as data:
        data["x"] = 1
    assert stat.S_IMODE((tmp_path / "state" / "state.json").stat().st_mode) == 0o600


def test_unknown_model_id_checks_credentials_before_saying_not_found(app):
    client = app.test_client()
    assert client.post("/models/0123/latest/model", json={"data": {}}).status_code == 401
    token = "Basic " + base64.b64encode(b"t:t").decode()
    assert client.post("/models/0123/latest/model", json={"data": {}},
                       headers={"Authorization": token}).status_code == 404
    assert client.post("/api/modelApis/async/v1/0123", json={"parameters": {}}).status_code == 401
