"""What step 3's wizard can tell a user about what exists: the Model Monitor models and data sources the identity
can see, the near misses of a wrong answer ("did you mean …", ``difflib``), an endpoint id given for a monitor id,
and the endpoint URL a monitor's record names.

Listing is best effort: a listing Domino refuses or fails (403 on ``GET /models`` for a user who may not list,
a 5xx) yields nothing, and the wizard falls back to its plain question and check.

Evidence for the record fields used: ``GET /models`` answers ``{modelDashboardItems: [...]}`` and a model record
of an endpoint monitor carries ``sourceType: "domino_workbench"`` and ``sourceDetails{workbenchModelId,
workbenchModelVersionId}`` (domino-api.md §2.2 "Model detail / dashboard fields seen in live responses", §2.3
``modelMetadata``); an endpoint's synchronous URL is ``{host}/models/{modelId}/latest/model`` (domino-api.md §3).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dmm.checks.result import CheckResult, failed
from dmm.errors import DmmError

if TYPE_CHECKING:
    from dmm.wizard_session import WizardSession

SHOWN = 10  # items named in a listing; the rest are counted


class ListsMonitor(Protocol):
    def list_models(self, page_size: int = 100) -> list[dict[str, Any]]: ...

    def list_datasources(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Hint:
    """Why an answer looks wrong and what it probably should be; ``suggestion`` becomes the next prompt's default."""

    detail: str
    fix: str
    suggestion: str = ""


def visible_models(monitor: ListsMonitor | None) -> list[dict[str, Any]]:
    if monitor is None:
        return []
    try:
        return [m for m in monitor.list_models() if isinstance(m, dict) and m.get("id")]
    except DmmError:
        return []


def visible_datasources(monitor: ListsMonitor | None) -> list[dict[str, Any]]:
    if monitor is None:
        return []
    try:
        return [d for d in monitor.list_datasources() if isinstance(d, dict) and d.get("name")]
    except DmmError:
        return []


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    more = len(items) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def model_label(model: dict[str, Any]) -> str:
    name = model.get("name")
    version = model.get("version")
    label = f"{name} v{version}" if name and version not in (None, "") else (name or "")
    return f"{model['id']} ({label})" if label else str(model["id"])


def models_line(models: Sequence[dict[str, Any]]) -> str:
    if not models:
        return ""
    return f"Model Monitor models this identity can see: {_listing([model_label(m) for m in models])}"


def datasources_line(sources: Sequence[dict[str, Any]]) -> str:
    if not sources:
        return ""
    labels = [f"{s['name']} ({s.get('type') or s.get('datasourceType') or '?'})" for s in sources]
    return f"Model Monitor data sources this identity can see: {_listing(labels)}"


def endpoint_id_of(model: dict[str, Any]) -> str:
    details = model.get("sourceDetails")
    return str(details.get("workbenchModelId") or "") if isinstance(details, dict) else ""


def endpoint_url_from(model: dict[str, Any] | None, base_url: str) -> str:
    """The endpoint URL a monitor's record names (its endpoint's model id), or ""."""
    endpoint_id = endpoint_id_of(model or {})
    if not endpoint_id or not base_url:
        return ""
    return f"{base_url.rstrip('/')}/models/{endpoint_id}/latest/model"


def _closest(value: str, candidates: Iterable[str]) -> str:
    choices = [c for c in candidates if c]
    folded = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(value.lower(), list(folded), n=1, cutoff=0.6)
    return folded[match[0]] if match else ""


def model_id_hint(value: str, models: Sequence[dict[str, Any]]) -> Hint | None:
    """An endpoint id, a model's name or a near miss given for a Model Monitor model id; None when nothing fits."""
    listing = models_line(models)
    for model in models:
        if endpoint_id_of(model) == value:
            return Hint(f"{value!r} is the id of an endpoint (the <id> in /models/<id>/latest/model), not of a Model "
                        f"Monitor model",
                        f"The monitor watching that endpoint has id {model['id']} ({model_label(model)}): answer "
                        f"with {model['id']} (Model Monitor's page URL ends with it)", str(model["id"]))
    for model in models:
        if str(model.get("name") or "").lower() == value.lower():
            return Hint(f"{value!r} is the name of a Model Monitor model, not its id",
                        f"Answer with its id {model['id']} ({model_label(model)})", str(model["id"]))
    by_id = _closest(value, (str(m["id"]) for m in models))
    by_name = "" if by_id else _closest(value, (str(m.get("name") or "") for m in models))
    match = next((m for m in models if by_id and str(m["id"]) == by_id
                  or by_name and str(m.get("name") or "") == by_name), None)
    if match is not None:
        return Hint(f"Model Monitor has no model with id {value!r}",
                    f"Did you mean {model_label(match)}? {listing}", str(match["id"]))
    if listing:
        return Hint(f"Model Monitor has no model with id {value!r}",
                    f"{listing}; answer with one of these ids, or copy it from the monitor's page URL")
    return None


def datasource_hint(value: str, sources: Sequence[dict[str, Any]]) -> Hint | None:
    """A near miss among Model Monitor's data sources (the name must match in Domino and Model Monitor)."""
    names = [str(s["name"]) for s in sources]
    if value in names:
        return None
    match = _closest(value, names)
    if match:
        return Hint("", f"Did you mean {match!r}? {datasources_line(sources)}", match)
    listing = datasources_line(sources)
    return Hint("", listing) if listing else None


def with_hint(result: CheckResult, key: str, hint: Hint | None) -> CheckResult:
    """A failed check with the hint's words added (its detail, when it has one, replaces the check's) and its
    suggestion as a fact (the wizard's next default)."""
    if hint is None:
        return result
    detail, fix = (hint.detail, hint.fix) if hint.detail else (result.detail, f"{result.fix.rstrip('.')}. {hint.fix}")
    return failed(key, detail, fix, result.exit_code, suggestion=hint.suggestion)


# --- what the wizard shows before a question, and the endpoint URL it proposes ---------------------------------

def models_intro(s: WizardSession) -> str:
    return models_line(visible_models(s.monitor))


def datasources_intro(s: WizardSession) -> str:
    return datasources_line(visible_datasources(s.monitor))


def endpoint_default(s: WizardSession) -> str:
    """The existing config's endpoint URL, else the one the monitor's record names (its endpoint's model id)."""
    configured = s.base_value("model_api.endpoint_url")
    if configured:
        return configured
    from_record = endpoint_url_from(s.model_record, s.answers.get("domino.base_url", ""))
    if from_record and s.interactive:
        s.io.tell(f"  The monitor watches endpoint {endpoint_id_of(s.model_record or {})}: its URL is proposed")
    return from_record


def prediction_name_problem(result: Any, prediction_name: str) -> str:
    """Why an endpoint's answer does not carry the prediction under the target's name, or "".

    Model Monitor matches the captured prediction to the training set's target by name (``MonitoringSchema.
    prediction_name``); the capture template returns the prediction under the same name it captures it with, so an
    answer (a mapping) without that name means the capture names it otherwise and step 6 would find it a day later.
    An answer that is not a mapping (a bare value, an MLflow pyfunc's list of rows) cannot tell and passes.
    """
    if not isinstance(result, dict) or not prediction_name or prediction_name in result:
        return ""
    others = [str(k) for k in result if k not in ("event_id", "timestamp", "prediction_probability")]
    named = f" (it names {', '.join(map(repr, others))})" if others else ""
    return (f"The endpoint's answer has no prediction named {prediction_name!r}{named}, so Model Monitor would not "
            f"match its captured predictions to the target {prediction_name!r}")
