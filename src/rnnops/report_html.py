"""What every task's report shares: its tuning section, and the self-contained HTML file (its
Markdown rendered, figures inlined)."""
from __future__ import annotations

import base64
import json
from pathlib import Path


def html(markdown_text: str, base: Path) -> str:
    """Self-contained HTML: the figures inlined as data URIs."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown_text)
    for png in sorted(base.rglob("*.png")):
        data = base64.b64encode(png.read_bytes()).decode()
        body = body.replace(f'src="{png.relative_to(base).as_posix()}"', f'src="data:image/png;base64,{data}"')
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
             "img{max-width:100%}")
    return f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>rnnops report</title>" \
           f"<style>{style}</style></head><body>\n{body}\n</body></html>\n"


def closing_sections(inputs: dict, figures: list[tuple[str, Path]], base: Path) -> list[str]:
    """The registry decision, the tuning section and the figures (title, PNG under `base`)."""
    lines = []
    if inputs["registry"]:
        r = inputs["registry"]
        lines += [f"Registry: `{r['name']}` version {r['version']} is `@{r['alias']}` ({r['reason']}).", ""]
    if inputs["tune"]:
        lines += tuning_section(inputs["tune"], inputs["best"])
    lines += ["## Figures", ""]
    for title, path in figures:
        lines += [f"### {title}", "", f"![{title}]({path.relative_to(base).as_posix()})", ""]
    return lines


def tuning_section(tune: dict, best: dict) -> list[str]:
    """The report's "Tuning" lines from tuning/study.json and tuning/best_params.json."""
    return ["## Tuning", "", f"- study `{tune['study']}`: best {tune['metric']} {tune['best_value']:.4f} "
            f"(trial {tune['best_trial']}); trials {tune['trials']}; {tune['epochs_spent']} epochs",
            f"- winner: `{json.dumps(best.get('models', {}).get('tuned', {}))}`, train "
            f"`{json.dumps(best.get('train', {}))}`", ""]
