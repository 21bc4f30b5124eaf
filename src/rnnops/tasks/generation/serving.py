"""MLflow pyfunc of the generation task, logged as code (no pickle): prompts in, generated text out.

Input: a DataFrame with a `prompt` column (JSON `dataframe_records` / `dataframe_split` over
HTTP), or a list of strings. Params (per request; `params` in the JSON body): max_tokens,
temperature, top_k (0 = off), top_p (1.0 = off), greedy, seed. Output: a DataFrame with `prompt`
and `text` (the continuation, without the prompt). Each prompt is decoded on its own with a
generator seeded by `seed`, so a prompt's text does not depend on the others in the batch.
Characters outside the vocabulary map to the unknown token; an empty prompt starts a document.
"""
from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from rnnops.tasks.generation.publish import OPTIONS as DEFAULTS


class Generator(PythonModel):
    def load_context(self, context):
        from rnnops.tasks.generation.members import load_members, mixture_stepper
        from rnnops.tasks.generation.vocabulary import Vocabulary

        self.spec = json.loads(Path(context.artifacts["spec"]).read_text())
        self.vocabulary = Vocabulary.from_json(json.loads(Path(context.artifacts["vocabulary"]).read_text(
            encoding="utf-8")))
        self.members = load_members(context.artifacts)
        self.stepper = mixture_stepper(self.members)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        prompts = prompts_of(model_input)
        options = checked_options(params)
        texts = [generate_text(self.stepper, self.vocabulary, p, **options) for p in prompts]
        return pd.DataFrame({"prompt": prompts, "text": texts})

    def token_probabilities(self, texts: list[str]) -> np.ndarray:
        """p(every token of the documents' stream after the first): the scores the evaluate stage
        reports, through the served members."""
        from rnnops.tasks.generation.members import mixture_probabilities

        return mixture_probabilities(self.members, self.vocabulary.stream(texts))


def prompts_of(model_input) -> list[str]:
    if isinstance(model_input, pd.DataFrame):
        column = "prompt" if "prompt" in model_input.columns else model_input.columns[0]
        values = model_input[column].tolist()
    elif isinstance(model_input, str):
        values = [model_input]
    else:
        values = list(model_input)
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def checked_options(params: dict | None) -> dict:
    from rnnops.errors import DataError

    options = {**DEFAULTS, **{k: v for k, v in (params or {}).items() if v is not None}}
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise DataError(f"unknown generation param(s) {unknown}. Fix: use {', '.join(DEFAULTS)}.")
    if not options["greedy"] and not float(options["temperature"]) > 0:
        raise DataError(f"temperature {options['temperature']}: must be > 0. Fix: a positive temperature, "
                        "or greedy: true for the most likely token at every step.")
    if not 0 < float(options["top_p"]) <= 1:
        raise DataError(f"top_p {options['top_p']}: must be in (0, 1]. Fix: 1.0 turns nucleus sampling off.")
    if int(options["top_k"]) < 0 or not 1 <= int(options["max_tokens"]) <= 100_000:
        raise DataError(f"top_k {options['top_k']} / max_tokens {options['max_tokens']}: top_k must be >= 0 "
                        "(0 = off) and max_tokens 1..100000.")
    return options


def generate_text(stepper, vocabulary, prompt: str, max_tokens: int, temperature: float, top_k: int,
                  top_p: float, greedy: bool, seed: int) -> str:
    from rnnops.tasks.generation.decoding import generate

    ids = generate(stepper, vocabulary.prompt(prompt), int(max_tokens), seed=int(seed),
                   temperature=float(temperature), top_k=int(top_k), top_p=float(top_p), greedy=bool(greedy))
    text = vocabulary.decode(ids)
    # Word level: the continuation is joined with spaces, and starts with one after a prompt.
    return (" " + text if text and prompt and vocabulary.level == "word" else text)


PYFUNC = Generator  # the pyfunc class of the generation task (rnnops.tasks)
mlflow.models.set_model(Generator())
