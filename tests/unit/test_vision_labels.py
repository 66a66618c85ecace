"""The label rules: the top class's name, `unknown` below the threshold, `not_an_animal`."""

from __future__ import annotations

from dataclasses import dataclass

from assisti_vision_worker import labels


@dataclass(frozen=True)
class Score:
    label: str
    confidence: float
    group: str | None = None
    animal: bool = False


def test_a_confident_animal_gets_its_name_and_group():
    top = [
        Score("tabby", 0.8, "cat", True),
        Score("tiger cat", 0.1, "cat", True),
        Score("Egyptian cat", 0.05, "cat", True),
    ]
    decision = labels.animal_label(top, min_confidence=0.3)
    assert (decision.label, decision.group, decision.confidence) == ("tabby", "cat", 0.8)
    assert [p.model_dump() for p in decision.predictions] == [
        {"label": "tabby", "confidence": 0.8},
        {"label": "tiger cat", "confidence": 0.1},
        {"label": "Egyptian cat", "confidence": 0.05},
    ]
    assert decision.group == "cat"


def test_an_unsure_animal_is_unknown():
    decision = labels.animal_label([Score("tabby", 0.2, "cat", True), Score("lynx", 0.19, "big cat", True)], 0.3)
    assert decision.label == "unknown" and decision.group is None and decision.confidence == 0.2
    assert decision.predictions[0].label == "tabby"  # the guesses are still shown


def test_a_photo_whose_top_class_is_not_an_animal():
    decision = labels.animal_label([Score("espresso", 0.9), Score("tabby", 0.05, "cat", True)], 0.3)
    assert decision.label == "not_an_animal" and decision.group is None
    low = labels.animal_label([Score("espresso", 0.1), Score("tabby", 0.09, "cat", True)], 0.3)
    assert low.label == "not_an_animal"  # not an animal wins over unknown


def test_road_signs_use_their_own_threshold():
    assert labels.road_sign_label([Score("Stop", 0.95), Score("Yield", 0.03)], 0.6).label == "Stop"
    unsure = labels.road_sign_label([Score("Stop", 0.5), Score("Yield", 0.4)], 0.6)
    assert unsure.label == "unknown" and unsure.group is None
