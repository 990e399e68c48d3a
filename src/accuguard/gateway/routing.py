"""Which variant answers a unit: the champion, a canary or an A/B arm. Sticky per unit.

Rules, in this order (``bucket`` is :func:`accuguard.assign.bucket`, in ``[0, 10000)``):

1. canary challengers, in config order: the unit goes to canary ``c`` when
   ``bucket(c.salt, unit) < round(c.weight * 10000)``, with ``c.salt`` defaulting to
   ``"<deployment>/<name>"``. The salt does not depend on the weight, so raising the
   weight keeps every unit already in the canary there;
2. A/B experiments (ab challengers grouped by salt): the unit's arm is
   ``Split.from_weights(split).variant(bucket(salt, unit))``; an arm other than
   ``champion`` serves the unit;
3. otherwise the champion.

Shadows answer nobody; a shadow with ``weight`` ``w`` mirrors the units with
``bucket("<deployment>/<name>", unit) < round(w * 10000)`` (all of them by default).
Without a unit id the request id is the unit, so such requests are spread at random.
"""

from __future__ import annotations

from dataclasses import dataclass

from accuguard.assign import BUCKETS, Split, bucket
from accuguard.gateway.config import CHAMPION, DeploymentConfig


@dataclass(frozen=True)
class Choice:
    """The variant serving a unit and its mode (``champion``, ``canary`` or ``ab``)."""

    variant: str
    mode: str


CHAMPION_CHOICE = Choice(CHAMPION, CHAMPION)


class Router:
    """Variant choice for one deployment (built once per config; cheap per request).

    >>> from accuguard.gateway.config import DeploymentConfig
    >>> cfg = DeploymentConfig.model_validate({"model": "fraud", "challengers": [
    ...     {"name": "v2", "version": 2, "mode": "canary", "weight": 0.5}]})
    >>> router = Router("fraud", cfg)
    >>> router.choose("user-1"), router.choose("user-4").variant
    (Choice(variant='v2', mode='canary'), 'champion')
    """

    def __init__(self, deployment: str, config: DeploymentConfig) -> None:
        self.deployment = deployment
        self._canaries: list[tuple[str, str, int]] = []
        self._experiments: list[tuple[str, Split]] = []
        self._shadows: list[tuple[str, str, int]] = []
        seen: set[str] = set()
        for c in config.challengers:
            salt = c.salt or f"{deployment}/{c.name}"
            if c.mode == "canary":
                self._canaries.append((c.name, salt, round((c.weight or 0.0) * BUCKETS)))
            elif c.mode == "shadow":
                weight = 1.0 if c.weight is None else c.weight
                self._shadows.append((c.name, f"{deployment}/{c.name}", round(weight * BUCKETS)))
            elif c.split is not None and salt not in seen:
                seen.add(salt)
                self._experiments.append((salt, Split.from_weights(list(c.split.items()))))

    def choose(self, unit_id: str) -> Choice:
        """The variant serving ``unit_id`` (the same one on every call and replica)."""
        for name, salt, threshold in self._canaries:
            if threshold and bucket(salt, unit_id) < threshold:
                return Choice(name, "canary")
        for salt, split in self._experiments:
            arm = split.variant(bucket(salt, unit_id))
            if arm != CHAMPION:
                return Choice(arm, "ab")
        return CHAMPION_CHOICE

    def shadows(self, unit_id: str) -> list[str]:
        """Names of the shadows that mirror ``unit_id``'s requests."""
        return [
            name
            for name, salt, threshold in self._shadows
            if threshold >= BUCKETS or (threshold and bucket(salt, unit_id) < threshold)
        ]
