"""The members of a served language model (one model or an ensemble), loaded from the pyfunc's
artifacts: Keras models (safe_mode=True, `.keras` only) as incremental steppers, and the n-gram
peer from its arrays. Both the pyfunc and the evaluate stage's end-to-end check use them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class NgramStepper:
    """The n-gram peer behind the decoding interface: its state is the last order-1 tokens."""

    def __init__(self, model):
        self.model, self.vocab_size, self.max_len = model, model.vocab_size, None

    def start(self):
        return ()

    def step(self, state, token: int):
        context = (*state, int(token))[-(self.model.order - 1):] if self.model.order > 1 else ()
        return self.model.distribution(list(context)), context


@dataclass
class Member:
    name: str
    weight: float
    model: object            # a Keras model, or ngram.KneserNey
    seq_len: int | None      # Keras: the window it was trained and scored with

    def stepper(self):
        from rnnops.tasks.generation.decoding import Stepper

        return NgramStepper(self.model) if self.seq_len is None else Stepper.from_keras(self.model)

    def token_probabilities(self, stream: np.ndarray) -> np.ndarray:
        from rnnops.tasks.generation.scoring import token_probabilities

        if self.seq_len is None:
            return self.model.token_probabilities(stream)
        return token_probabilities(self.model, stream, self.seq_len)


def load_members(artifacts: dict[str, str]) -> list[Member]:
    from rnnops.models.keras_io import load_keras_model
    from rnnops.tasks.generation.ngram import KneserNey

    entries = json.loads(Path(artifacts["ensemble"]).read_text())["members"]
    return [Member(e["name"], e["weight"],
                   KneserNey.load(artifacts[e["artifact"]]) if e["kind"] == "ngram"
                   else load_keras_model(artifacts[e["artifact"]]), e.get("seq_len")) for e in entries]


def mixture_probabilities(members: list[Member], stream: np.ndarray) -> np.ndarray:
    """p(each token after the first) under the weighted mixture of the members."""
    return sum(m.weight * m.token_probabilities(stream) for m in members)


def mixture_stepper(members: list[Member]):
    from rnnops.tasks.generation.decoding import MixtureStep

    if len(members) == 1:
        return members[0].stepper()
    return MixtureStep([(m.stepper(), m.weight) for m in members])
