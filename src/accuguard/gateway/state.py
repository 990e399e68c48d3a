"""What serves a deployment right now: loaded model versions, variants and the router.

A :class:`DeploymentState` is immutable; a reload builds a new one and swaps it in
with one assignment, so a request sees either the old or the new state, never a mix.
"""

from __future__ import annotations

from dataclasses import dataclass

from accuguard.gateway.batcher import MicroBatcher
from accuguard.gateway.config import DeploymentConfig
from accuguard.gateway.models import ModelHandle
from accuguard.gateway.routing import Router


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model version and the micro-batcher in front of it (shared by deployments)."""

    handle: ModelHandle
    batcher: MicroBatcher

    @property
    def key(self) -> tuple[str, str]:
        """``(registered model name, version)``."""
        return (self.handle.name, self.handle.version)


@dataclass(frozen=True, eq=False)
class Variant:
    """A deployment's champion or challenger: its mode, model version and timeout."""

    name: str
    mode: str  # champion | canary | ab | shadow
    model: LoadedModel
    timeout_s: float

    @property
    def version(self) -> str:
        """The model version number, as a string."""
        return self.model.handle.version


@dataclass(frozen=True, eq=False)
class DeploymentState:
    """Everything a request to one deployment needs, swapped atomically on reload."""

    name: str
    config: DeploymentConfig
    champion: Variant
    challengers: dict[str, Variant]  # canary and ab, by name
    shadows: dict[str, Variant]
    router: Router

    def variants(self) -> list[Variant]:
        """Champion, serving challengers and shadows."""
        return [self.champion, *self.challengers.values(), *self.shadows.values()]

    def versions(self) -> dict[str, tuple[str, str]]:
        """``{variant: (model name, version)}``: what this state serves."""
        return {v.name: v.model.key for v in self.variants()}
