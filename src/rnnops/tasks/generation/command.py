"""`rnnops generate "prompt" ...`: text continuing each prompt, by the registry champion of the
generation params' dataset (default), challenger, the pulled evaluate-stage winner, or any model.
Temperature and top-k/top-p sampling, seeded; --greedy takes the most likely token each step."""
from __future__ import annotations

from pathlib import Path

from rnnops.errors import DataError, RnnopsError
from rnnops.task_model import load


def generate_command(args) -> None:
    import json

    from rnnops.tasks.generation.serving import checked_options

    options = checked_options({"max_tokens": args.max_tokens, "temperature": args.temperature, "top_k": args.top_k,
                               "top_p": args.top_p, "greedy": args.greedy, "seed": args.seed})
    prompts = args.prompts or [""]  # no prompt: a document from its beginning
    model = load(args.model, Path(args.params), "generation")
    try:
        import pandas as pd

        out = model.predict(pd.DataFrame({"prompt": prompts}), params=options)
    except Exception as exc:  # the pyfunc's own checks
        cause = exc if isinstance(exc, RnnopsError) else getattr(exc, "__cause__", None) or exc
        raise DataError(str(cause).splitlines()[0] if str(cause) else type(cause).__name__) from None
    if args.json:
        print(json.dumps(out.to_dict(orient="records"), ensure_ascii=False))
        return
    for prompt, text in zip(out["prompt"], out["text"]):
        print(prompt + text)
