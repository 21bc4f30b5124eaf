"""MLflow pyfunc of the seq2seq task, logged as code (no pickle): source texts in, target texts out.

Input: a DataFrame with a `source` column (JSON `dataframe_records` / `dataframe_split` over
HTTP), or a list of strings. Params (per request; `params` in the JSON body): beam_width (1 =
greedy), length_penalty, max_len (0 = the data's maximum target length), attention (true adds a
column with each output's attention map as JSON: rows are output tokens, columns source tokens).
Output: a DataFrame with `source`, `target` and `score` (the output's log-probability, length
normalised for beams). Characters (or words) outside the source vocabulary map to the unknown
token; a source longer than the model reads is an error naming its row.
"""
from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

OPTION_TYPES = {"beam_width": int, "length_penalty": float, "max_len": int, "attention": bool}


class Translator(PythonModel):
    def load_context(self, context):
        from rnnops.models.keras_io import load_keras_model
        from rnnops.tasks.seq2seq.decoding import Decoder
        from rnnops.tasks.seq2seq.vocabulary import SideVocabulary

        self.spec = json.loads(Path(context.artifacts["spec"]).read_text())
        vocabularies = json.loads(Path(context.artifacts["vocabulary"]).read_text(encoding="utf-8"))
        self.source_vocabulary = SideVocabulary.from_json(vocabularies["source"])
        self.target_vocabulary = SideVocabulary.from_json(vocabularies["target"])
        members = json.loads(Path(context.artifacts["ensemble"]).read_text())["members"]
        self.names = [m["name"] for m in members]
        self.weights = [float(m["weight"]) for m in members]
        self.decoders = [Decoder.from_keras(load_keras_model(context.artifacts[m["artifact"]])) for m in members]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        sources = sources_of(model_input, self.spec.get("lowercase", False))
        options = checked_options(params)
        out = self.translate(sources, **options)
        frame = pd.DataFrame({"source": sources, "target": out.texts, "score": out.scores})
        if options["attention"]:
            frame["attention"] = [json.dumps({"source": t, "weights": np.round(a, 5).tolist()}, ensure_ascii=False)
                                  if a is not None else "null"
                                  for t, a in zip(out.source_tokens, out.attention or [None] * len(sources))]
        return frame

    def translate(self, sources: list[str], beam_width: int, length_penalty: float, max_len: int, attention=False):
        from rnnops.tasks.seq2seq.translate import translate

        return translate(self.decoders, self.weights, self.source_vocabulary, self.target_vocabulary, sources,
                         self.spec["max_source_len"], max_len or self.spec["target_len"] - 1, beam_width,
                         length_penalty)


def sources_of(model_input, lowercase: bool = False) -> list[str]:
    if isinstance(model_input, pd.DataFrame):
        column = "source" if "source" in model_input.columns else model_input.columns[0]
        values = model_input[column].tolist()
    elif isinstance(model_input, str):
        values = [model_input]
    else:
        values = list(model_input)
    texts = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]
    return [t.lower() for t in texts] if lowercase else texts


def checked_options(params: dict | None) -> dict:
    from rnnops.errors import DataError

    given = {k: v for k, v in (params or {}).items() if v is not None}
    unknown = sorted(set(given) - set(OPTION_TYPES))
    if unknown:
        raise DataError(f"unknown translation param(s) {unknown}. Fix: use {', '.join(OPTION_TYPES)}.")
    options = {"beam_width": 1, "length_penalty": 0.0, "max_len": 0, "attention": False, **given}
    try:
        options = {k: OPTION_TYPES[k](v) for k, v in options.items()}
    except (TypeError, ValueError):
        raise DataError(f"translation params {given}: beam_width and max_len are integers, length_penalty a "
                        "number, attention true or false.") from None
    if not 1 <= options["beam_width"] <= 64 or not 0 <= options["max_len"] <= 4096 or options["length_penalty"] < 0:
        raise DataError(f"beam_width {options['beam_width']} (1..64), max_len {options['max_len']} (0..4096, 0 = "
                        f"the model's) or length_penalty {options['length_penalty']} (>= 0) out of range.")
    return options


PYFUNC = Translator  # the pyfunc class of the seq2seq task (rnnops.tasks)
mlflow.models.set_model(Translator())
