"""The Domino surface a step talks to, as one object built lazily from the config.

Every step's library function takes a ``Services`` (the ``DominoServices`` below, or a test's fake that satisfies
the same Protocol) instead of building clients itself. Nothing is constructed, imported or contacted until a step
first asks for it, so ``--help`` and usage errors stay fast and offline.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from dmm.auth import Credentials
    from dmm.config import MonitoringConfig
    from dmm.datasources import DataSources
    from dmm.ledger import Ledger
    from dmm.model_api import ModelApiClient
    from dmm.monitor import ModelMonitorClient


class Services(Protocol):
    """What a step may ask of Domino; ``DominoServices`` is the real one, tests pass fakes."""

    @property
    def monitor(self) -> ModelMonitorClient: ...

    @property
    def datasources(self) -> DataSources: ...

    @property
    def ledger(self) -> Ledger: ...

    def model_api(self, *, timeout: float | None = None, pool_size: int = 10) -> ModelApiClient: ...

    def training_set_version(self, name: str, number: int) -> Any: ...

    def custom_metrics(self) -> Any: ...


class DominoServices:
    """The real Domino surface for one config. Each client is built on first use and then reused."""

    def __init__(self, config: MonitoringConfig, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.env = os.environ if env is None else env

    @cached_property
    def credentials(self) -> Credentials:
        """The auth method of ``dmm.auth``'s chain that the config (or ``--auth``) picks, for every service."""
        from dmm import auth

        return auth.from_config(self.config, self.env)

    @cached_property
    def monitor(self) -> ModelMonitorClient:
        from dmm.monitor import ModelMonitorClient

        return ModelMonitorClient(self.config.model_monitor_api_url, self.credentials,
                                  api_key_env=self.config.user_api_key_env)

    @cached_property
    def datasources(self) -> DataSources:
        from dmm import domino_clients
        from dmm.datasources import DataSources

        credentials = self.credentials
        sources = DataSources()
        if hasattr(sources, "use"):  # tests may stand a fake in for the class
            sources.use(lambda: domino_clients.data_source_client(credentials))
        return sources

    @cached_property
    def ledger(self) -> Ledger:
        from dmm.ledger import Ledger

        return Ledger.load(self.ledger_path)

    @property
    def ledger_path(self) -> Path:
        return Path(self.config.ledger_path)

    def model_api(self, *, timeout: float | None = None, pool_size: int = 10) -> ModelApiClient:
        from dmm.model_api import ModelApiClient

        # Every prediction the toolkit sends carries its own event id (step 4's traffic, the probes of steps 3 and
        # 6), so a repeat after a lost answer is the same prediction, not a second one without a label.
        return ModelApiClient(self.config.model_api_url, self.config.model_api_token(),
                              timeout=timeout or self.config.model_api_timeout, pool_size=pool_size,
                              repeatable_posts=True, kind=self.config.model_api_kind)

    def training_set_version(self, name: str, number: int) -> Any:
        from domino_data.training_sets.client import get_training_set_version

        from dmm import domino_clients

        with domino_clients.training_sets_as(self.credentials, self.env):
            return get_training_set_version(name, number)

    def custom_metrics(self) -> Any:
        from dmm import hosts
        from dmm.publish import custom_metrics_client

        return custom_metrics_client(self.credentials, hosts.custom_metrics(self.config.domino_base_url, self.env),
                                     self.env)
