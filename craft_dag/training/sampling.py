"""Per-entity repeat weights: how often each training sample is drawn.

The paper duplicated the whole dataset 50 times "to expand those domains and entities for which
there are only a small number of high-quality training examples". Duplicating everything alike
leaves every entity's *share* of the data unchanged, so a rare entity stays rare; it is kept here
as the named mode ``uniform`` (``repeat_weight = 50`` for every sample) to reproduce the paper.

The default, ``balanced``, pulls each entity's effective count toward a target. For an entity
``e`` with ``n_e`` samples, target ``T`` (``target_per_entity``), cap ``C`` (``max_repeats``)
and strength ``s`` (1 = all the way to the target, 0.5 = square-root balancing, 0 = none)::

    w_e = clamp((T / n_e) ** s, 1, C)          # the weight of each of e's samples
    effective_e = n_e * w_e                     # = clamp(T, n_e, C * n_e) when s = 1

The floor of 1 means no sample is drawn less than once per pass: an entity with more than ``T``
samples keeps them all rather than being thinned. The cap means an entity with one good image is
repeated at most ``C`` times per pass, so the model is not taught to reproduce a few images.

``T`` is a fixed number, not derived from the whole dataset (such as the median entity count):
shards are built per category, and a target computed across categories would make one
category's edit change every other category's weights, rewriting every shard.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

MODES = ("balanced", "uniform")
PAPER_REPEATS = 50
DEFAULT_TARGET_PER_ENTITY = 40
DEFAULT_MAX_REPEATS = 20


@dataclass(frozen=True)
class EntityWeight:
    """One entity's samples before and after weighting."""

    entity_id: str
    samples: int
    weight: float
    effective: float  # samples * weight


@dataclass(frozen=True)
class RepeatWeights:
    """Per-sample weights (in the input's order) and the per-entity summary."""

    mode: str
    weights: list[float]
    entities: list[EntityWeight]  # sorted by entity id
    target_per_entity: float | None
    max_repeats: float | None

    @property
    def samples(self) -> int:
        return len(self.weights)

    @property
    def effective(self) -> float:
        return sum(self.weights)


def entity_weight(samples: int, target: float, max_repeats: float, strength: float = 1.0) -> float:
    """``clamp((target / samples) ** strength, 1, max_repeats)``: the balanced-mode weight."""
    if samples <= 0:
        raise ValueError("an entity with no samples has no weight")
    return min(max((target / samples) ** strength, 1.0), max_repeats)


def repeat_weights(
    entity_ids: Sequence[str],
    mode: str = "balanced",
    *,
    target_per_entity: float = DEFAULT_TARGET_PER_ENTITY,
    max_repeats: float = DEFAULT_MAX_REPEATS,
    strength: float = 1.0,
    uniform_repeats: int = PAPER_REPEATS,
) -> RepeatWeights:
    """The repeat weight of each sample, given the entity of each (one id per sample)."""
    if mode not in MODES:
        raise ValueError(f"unknown sampling mode {mode!r}: use one of {', '.join(MODES)}")
    counts = Counter(entity_ids)
    if mode == "uniform":
        per_entity = {e: float(uniform_repeats) for e in counts}
        target, cap = None, None
    else:
        if target_per_entity <= 0:
            raise ValueError(f"target_per_entity must be positive, got {target_per_entity}")
        if max_repeats < 1:
            raise ValueError(f"max_repeats must be at least 1, got {max_repeats}")
        if not 0 <= strength <= 1:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        per_entity = {
            e: entity_weight(n, target_per_entity, max_repeats, strength) for e, n in counts.items()
        }
        target, cap = float(target_per_entity), float(max_repeats)
    return RepeatWeights(
        mode=mode,
        weights=[per_entity[e] for e in entity_ids],
        entities=[
            EntityWeight(e, counts[e], per_entity[e], counts[e] * per_entity[e])
            for e in sorted(counts)
        ],
        target_per_entity=target,
        max_repeats=cap,
    )
