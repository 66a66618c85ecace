"""From a classifier's top-5 to the item's label: the rules, apart from the models.

- The label is the top class's human name, unless the model is not confident enough
  (below the configured threshold): then it is "unknown".
- For animals, a photo whose top class is not an animal is "not_an_animal", whatever the confidence,
  and the label carries the animal's group (dog, cat, bird, fish, reptile, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from assisti_common.image_jobs.kinds import Prediction

UNKNOWN = "unknown"
NOT_AN_ANIMAL = "not_an_animal"


class Score(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def group(self) -> str | None: ...
    @property
    def animal(self) -> bool: ...


@dataclass(frozen=True)
class Decision:
    label: str
    confidence: float
    group: str | None
    predictions: list[Prediction]


def _confidence(score: Score) -> float:
    return round(float(score.confidence), 4)


def _predictions(top: Sequence[Score]) -> list[Prediction]:
    return [Prediction(label=score.label, confidence=_confidence(score)) for score in top]


def animal_label(top: Sequence[Score], min_confidence: float) -> Decision:
    best = top[0]
    if not best.animal:
        return Decision(NOT_AN_ANIMAL, _confidence(best), None, _predictions(top))
    if best.confidence < min_confidence:
        return Decision(UNKNOWN, _confidence(best), None, _predictions(top))
    return Decision(best.label, _confidence(best), best.group, _predictions(top))


def road_sign_label(top: Sequence[Score], min_confidence: float) -> Decision:
    best = top[0]
    label = best.label if best.confidence >= min_confidence else UNKNOWN
    return Decision(label, _confidence(best), None, _predictions(top))
