"""How a sandbox is started: keys, the folder, and the faults to inject per route group."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.profiles import DEFAULT_PROFILE, PROFILES, Profile, accepted_tokens

ROUTE_GROUPS = ("core", "trainingset", "datasource", "objectstore", "monitor", "modelapi", "metrics", "admin",
                "admin_models")


@dataclass
class Fault:
    fail_rate: float = 0.0
    latency_ms: int = 0


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
