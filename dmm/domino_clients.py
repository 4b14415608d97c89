"""Domino's own clients, built with our credentials (``dmm.auth``), hosts (``dmm.hosts``), retries and trace
(``dmm.transport``).

Left to themselves, Domino's clients read the environment and pick their own method: ``domino_data`` prefers
a token URL, then the token file, then the API key (``domino_data/auth.py``) and knows nothing of a token held in
a variable of our choosing; python-domino prefers the proxy (``domino/authentication.py``). Here each is handed
exactly the method the chain chose, so every service is reached the same way and step 3/6 can say which.

- training sets: ``domino_data.training_sets.client`` builds a fresh ``AuthenticatedClient`` for every call in its
  module-level ``_get_client()``; ``training_sets_as`` replaces that function, for one block, with one built from our
  credentials (same base URL rule, ``hosts.training_sets``);
- data sources: ``DataSourceClient`` takes ``api_key``, ``token_file``, ``token_url`` and ``token`` as arguments;
- custom metrics: ``domino.Domino(project, host=, api_key= | auth_token= | domino_token_file= | api_proxy=)``.

Their HTTP goes through httpx's and requests' transports, which ``transport.install_domino_client_hooks`` wraps.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dmm import hosts, transport
from dmm.auth import Credentials


@contextmanager
def training_sets_as(credentials: Credentials, env: Mapping[str, str] | None = None) -> Iterator[None]:
    """Within the block, ``domino_data.training_sets.client`` authenticates with ``credentials``; its own
    ``_get_client`` is put back afterwards, so nothing else in the process inherits them."""
    transport.install_domino_client_hooks()
    from domino_data.auth import AuthenticatedClient
    from domino_data.training_sets import client

    def _get_client() -> AuthenticatedClient:
        return AuthenticatedClient(base_url=f"{hosts.training_sets(env)}/trainingset",  # type: ignore[call-arg]
                                   **credentials.domino_data_kwargs()).with_auth_headers()

    original = client._get_client
    client._get_client = _get_client
    try:
        yield
    finally:
        client._get_client = original


def data_source_client(credentials: Credentials) -> Any:
    transport.install_domino_client_hooks()
    from domino_data.data_sources import DataSourceClient

    return DataSourceClient(**credentials.domino_data_kwargs())


def python_domino(credentials: Credentials, project: str, host: str) -> Any:
    transport.install_domino_client_hooks()
    import domino

    return domino.Domino(project, host=host or None, **credentials.python_domino_kwargs())
