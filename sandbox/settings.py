"""How a sandbox is started: keys, the folder, and the faults to inject per route group."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.profiles import DEFAULT_PROFILE, PROFILES, Profile, accepted_tokens

ROUTE_GROUPS = ("core", "trainingset", "datasource", "objectstore", "monitor", "modelapi", "metrics", "admin",
                "admin_models", "jobs")


@dataclass
class Fault:
    """What one route group suffers, each request rolling its own dice (seeded by ``SandboxSettings.seed``).

    - ``fail_rate``: share answered 503 before anything happens (a gateway or pod that is down);
    - ``latency_ms`` + up to ``jitter_ms`` more (uniform): delay before the request is handled;
    - ``throttle_rate``: share answered 429 with ``Retry-After: <retry_after_s>`` before anything happens;
    - ``act_then_fail_rate``: share that is handled (the state changes, the model captures) and whose answer is then
      replaced by a 502, as when a proxy or load balancer loses the upstream's answer.

    Evidence: Domino's own python-domino client retries 408/502/503/504 with backoff (``domino/http_request_manager.py``
    in .venv, ``Retry(status_forcelist=[408, 502, 503, 504])``), and ``domino_data`` backs off on auth errors and read
    timeouts (``domino_data/auth.py``): Domino's clients expect a gateway that answers 5xx while a service restarts.
    A 429 with ``Retry-After`` from Domino is not documented (no Domino page found) [uncertain]: it is the generic
    behaviour of a rate-limiting proxy in front of a service, injected only when asked for (issue 9). All of these are
    off unless switched on; they are fault injection, not a claim about a healthy Domino.
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
    # the kind of Domino deployment it stands for (sandbox/profiles.py): auth methods, hosts, listeners
    profile: Profile = field(default_factory=lambda: PROFILES[DEFAULT_PROFILE])

    @property
    def access_tokens(self) -> tuple[str, ...]:
        """Bearer tokens handed out by the API proxy or to a service account (keyless profiles only)."""
        return () if self.profile.user_api_keys else accepted_tokens(self.profile, self.api_keys[0])

    def fault_for(self, group: str) -> Fault:
        return self.faults.get(group) or self.faults.get("*") or Fault()
