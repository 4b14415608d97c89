"""How a sandbox is started: keys, the folder, and the faults to inject per route group."""

from __future__ import annotations

from dataclasses import dataclass, field

ROUTE_GROUPS = ("core", "trainingset", "datasource", "objectstore", "monitor", "modelapi", "metrics", "admin",
                "admin_models")


@dataclass
class Fault:
    """What one route group suffers, each request rolling its own dice (seeded by ``SandboxSettings.seed``).

    - ``fail_rate``: share answered 503 before anything happens (a gateway or pod that is down);
    - ``latency_ms`` + up to ``jitter_ms`` more (uniform): delay before the request is handled;
    - ``throttle_rate``: share answered 429 with ``Retry-After: <retry_after_s>`` before anything happens;
    - ``act_then_fail_rate``: share that is handled (the state changes, the model captures) and whose answer is then
      replaced by a 502, as when a proxy or load balancer loses the upstream's answer.

    Evidence that Domino answers these: its nginx ingress and API gateway answer 502/503/504 while a pod restarts,
    and Domino's public API answers 429 when a caller exceeds its rate limit (docs.dominodatalab.com "Domino API
    rate limits"; python-domino ``domino/http_request_manager.py`` retries 429/5xx); see docs/internals.md.
    """

    fail_rate: float = 0.0
    latency_ms: int = 0
    jitter_ms: int = 0
    throttle_rate: float = 0.0
    retry_after_s: int = 1
    act_then_fail_rate: float = 0.0

    def to_json(self) -> dict[str, float | int]:
        return {"failRate": self.fail_rate, "latencyMs": self.latency_ms, "jitterMs": self.jitter_ms,
                "throttleRate": self.throttle_rate, "retryAfterS": self.retry_after_s,
                "actThenFailRate": self.act_then_fail_rate}


@dataclass
class SandboxSettings:
    api_keys: tuple[str, ...] = ("sandbox-api-key",)
    project_id: str = "sandbox-project-0000000000"
    project_owner: str = "sandbox-user"
    project_name: str = "monitoring-sandbox"
    domino_version: str = "6.0.0"
    seed: int | None = None
    faults: dict[str, Fault] = field(default_factory=dict)

    def fault_for(self, group: str) -> Fault:
        return self.faults.get(group) or self.faults.get("*") or Fault()
