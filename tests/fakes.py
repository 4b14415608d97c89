"""Test doubles shared by the step tests: a real ``MonitoringConfig`` and a ``Services`` fake.

``FakeServices`` satisfies ``dmm.services.Services`` (``test_fake_services_satisfy_the_protocol`` in
test_services_fake.py checks every member), so a step under test gets exactly what production gives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dmm.config import MonitoringConfig, load_config, save_config
from dmm.ledger import Ledger

API_KEY = "user-key-abcdef"


def make_config(folder: Path, env: Mapping[str, str] | None = None, **sections: dict[str, Any]) -> MonitoringConfig:
    """A validated config written to ``folder/monitoring_config.json`` (model m1, data source gt-store)."""
    data: dict[str, dict[str, Any]] = {
        "domino": {"base_url": "https://domino.example.com"},
        "model_monitor": {"model_id": "m1"},
        "model_api": {"endpoint_url": "https://domino.example.com/models/abc/latest/model"},
        "data_sources": {"ground_truth": "gt-store", "ground_truth_type": "s3"},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    path = save_config(data, Path(folder) / "monitoring_config.json")
    return load_config(path, env={"DOMINO_USER_API_KEY": API_KEY} if env is None else env)


class FakeServices:
    """The Domino surface a step may ask for, each part given by the test (asking for a missing part fails)."""

    def __init__(self, *, monitor: Any = None, datasources: Any = None, ledger: Ledger | None = None,
                 model_api: Any = None, ledger_path: Path | None = None) -> None:
        self._monitor, self._datasources, self._model_api = monitor, datasources, model_api
        self._ledger = ledger
        self._ledger_path = ledger_path
        self.asked: list[str] = []

    def _give(self, name: str, value: Any) -> Any:
        self.asked.append(name)
        if value is None:
            raise AssertionError(f"the step asked for {name}, which this test did not expect")
        return value

    @property
    def monitor(self) -> Any:
        return self._give("monitor", self._monitor)

    @property
    def datasources(self) -> Any:
        return self._give("datasources", self._datasources)

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None and self._ledger_path is not None:
            self._ledger = Ledger.load(self._ledger_path)
        return self._give("ledger", self._ledger)

    def model_api(self, *, timeout: float | None = None, pool_size: int = 10) -> Any:
        return self._give("model_api", self._model_api)

    def training_set_version(self, name: str, number: int) -> Any:
        return self._give("training_set_version", None)

    def custom_metrics(self) -> Any:
        return self._give("custom_metrics", None)
