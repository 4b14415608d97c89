"""The tests' ``FakeServices`` offers every member of the ``Services`` Protocol, with the same call shapes."""

from __future__ import annotations

import inspect

from fakes import FakeServices

from dmm.services import DominoServices, Services


def protocol_members() -> list[str]:
    return sorted(name for name in vars(Services) if not name.startswith("_"))


def test_fake_services_satisfy_the_protocol():
    members = protocol_members()
    assert {"monitor", "datasources", "ledger", "model_api"} <= set(members)
    for name in members:
        expected = inspect.getattr_static(Services, name)
        fake = inspect.getattr_static(FakeServices, name)
        real = inspect.getattr_static(DominoServices, name)
        if isinstance(expected, property):
            assert isinstance(fake, property), name
        else:
            assert shape(fake) == shape(expected) == shape(real), name


def shape(function) -> list[tuple[str, object, object]]:
    """Parameter names, kinds and defaults (annotations differ: the fake returns fakes)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]
