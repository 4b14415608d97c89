"""The training-set client's failures as the toolkit's errors, and the clean-up of a version left pending."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dmm.errors import ApiError, DmmError, UsageError
from dmm.redact import redact


def delete_pending_versions(client: Any, name: str, existing: set[int]) -> None:
    """Remove versions this call left pending, so nothing stays half-registered."""
    try:
        versions = client.list_training_set_versions(training_set_name=name)
    except Exception:  # the original error matters more than a failed clean-up
        return
    for version in versions:
        if version.number not in existing and version.pending:
            try:
                client.delete_training_set_version(name, version.number)
            except Exception:  # OSError: deleted on the server, but no local folder to remove
                pass


# Training-set names are unique per Domino instance, and adding a version from another project "can result in an
# error" (docs.dominodatalab.com, user_guide create-trainingsets; domino-api.md audit table). The client keeps only the
# server's ``errors`` (``_raise_response_exn``), not the status, so the refusal is recognised by its words.
_NAME_TAKEN_WORDS = ("already exists", "another project", "other project", "already used", "already in use",
                     "not unique", "must be unique", "already taken")


def name_taken(detail: str) -> bool:
    text = detail.lower()
    return any(words in text for words in _NAME_TAKEN_WORDS)


def qualified_names(name: str, env: Any = None) -> list[str]:
    """Names that a project or a user owns: ``<project>-<name>``, ``<user>-<name>`` (valid training-set names)."""
    import re

    env = os.environ if env is None else env
    owners = [env.get("DOMINO_PROJECT_NAME"), env.get("DOMINO_STARTING_USERNAME") or env.get("DOMINO_PROJECT_OWNER")]
    names = [re.sub(r"[^-A-Za-z0-9_]+", "-", owner).strip("-") + f"-{name}" for owner in owners if owner]
    return list(dict.fromkeys(names)) or [f"<project>-{name}", f"<user>-{name}"]


@contextmanager
def service_errors(client: Any, httpx: Any, what: str, name: str = "") -> Iterator[None]:
    """Turn the training-set client's exceptions into ``ApiError`` / ``UsageError`` with a fix; with ``name``, a
    refusal that says the name is taken (by another project) is ``training-set-name-taken`` proposing a name."""
    host = redact(os.environ.get("DOMINO_API_HOST") or os.environ.get("DOMINO_USER_HOST") or "")
    try:
        yield
    except DmmError:
        raise
    except client.ServerException as exc:
        detail = exc.server_msg if exc.server_msg else exc.message
        if isinstance(detail, list):
            detail = "; ".join(map(str, detail))
        if name and name_taken(str(detail)):
            proposals = qualified_names(name)
            raise UsageError(f"The training set name {name!r} is taken on this Domino, probably by another project "
                             f"(names are unique per Domino; the service said '{redact(str(detail))}')",
                             f"Register under a name of this project or user, e.g. --name {proposals[0]}"
                             + (f" or --name {proposals[1]}" if len(proposals) > 1 else ""),
                             code="training-set-name-taken") from None
        raise ApiError(f"{what} failed: the training-set service answered '{redact(str(detail))}'",
                       "Check the name and columns, and that DOMINO_USER_API_KEY and DOMINO_PROJECT_ID belong to "
                       "this project", server_message=redact(str(detail)), code="training-set-refused") from None
    except httpx.TimeoutException:
        raise ApiError(f"{what} timed out talking to {host}", "Check that Domino is reachable and try again",
                       code="timeout") from None
    except httpx.HTTPError as exc:
        raise ApiError(f"{what} failed: could not reach the training-set service at {host} ({type(exc).__name__})",
                       "Check DOMINO_API_HOST and that Domino is reachable from here", code="unreachable") from None
    except OSError as exc:
        root = os.environ.get("DOMINO_TRAINING_SET_PATH", "/var/opt/domino/trainingset/project")
        raise ApiError(f"{what} failed while writing the data under {root} ({exc.strerror or exc})",
                       "Check that DOMINO_TRAINING_SET_PATH points at the writable training-set mount",
                       code="training-set-write-failed") from None
    except (ValueError, client.SchemaMismatchException) as exc:
        raise UsageError(f"{what} was refused by the client: {redact(str(exc))}", "Check the name and the column flags",
                         code="training-set-rejected") from None
