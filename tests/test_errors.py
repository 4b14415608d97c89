"""Error codes: every DmmError has a stable ``.code``, the class's default unless the raise site names one."""

from __future__ import annotations

import pytest

from dmm.errors import ApiError, AuthError, ConfigError, ConflictError, DmmError, NotFoundError, UsageError


@pytest.mark.parametrize("cls, code, exit_code", [
    (DmmError, "error", 1), (UsageError, "usage", 2), (ConfigError, "config", 2), (ApiError, "api", 3),
    (NotFoundError, "not-found", 3), (AuthError, "auth", 3), (ConflictError, "conflict", 3)])
def test_each_class_has_a_default_code(cls, code, exit_code):
    error = cls("Something is wrong.", "Fix it.")
    assert (error.code, error.exit_code, str(error)) == (code, exit_code, "Something is wrong. Fix it.")


def test_a_raise_site_names_its_own_code():
    assert ConfigError("x", code="config-placeholder").code == "config-placeholder"
    error = NotFoundError("x", "y", status=404, url="u", code="datasource-missing")
    assert (error.code, error.status, error.url) == ("datasource-missing", 404, "u")
