"""`rnnops translate "3 mars 1998" ...`: target texts for source texts, by the registry champion
of the seq2seq params' dataset (default), challenger, the pulled evaluate-stage winner, or any
model. Beam search by default (the pipeline's width); --greedy for width 1; --attention prints
each output's attention map as JSON."""
from __future__ import annotations

import sys
from pathlib import Path

from rnnops.errors import DataError, RnnopsError
from rnnops.task_model import load


def translate_command(args) -> None:
    import json

    import pandas as pd

    from rnnops.tasks.seq2seq.serving import checked_options

    sources = args.sources or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not sources:
        raise DataError("no source texts. Fix: pass them as arguments or one per line on stdin.")
    given = {"beam_width": 1 if args.greedy else args.beam_width, "length_penalty": args.length_penalty,
             "max_len": args.max_len, "attention": args.attention}
    given = {k: v for k, v in given.items() if v is not None and v is not False}
    checked_options(given)  # errors before the model loads; what is not given: the model's defaults
    model = load(args.model, Path(args.params), "seq2seq")
    try:
        out = model.predict(pd.DataFrame({"source": sources}), params=given)
    except Exception as exc:  # the pyfunc's own checks
        cause = exc if isinstance(exc, RnnopsError) else getattr(exc, "__cause__", None) or exc
        raise DataError(str(cause).splitlines()[0] if str(cause) else type(cause).__name__) from None
    if args.json:
        print(json.dumps(out.to_dict(orient="records"), ensure_ascii=False))
        return
    for row in out.itertuples():
        print(f"{row.source}\t{row.target}")
        if args.attention:
            print(row.attention)
