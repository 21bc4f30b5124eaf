"""Params overrides as `dvc exp run -S` arguments (DVC's Hydra override grammar), for presets and
recipes: the one place that turns a mapping of dotted keys into `-S` strings.

- `key=value` sets a key the params file has; a mapping value is merged into the block there.
- `+key=value` adds a key the file lacks (recipes only: a preset's unknown key is a typo). DVC
  refuses a mapping that adds keys to a block ("Key 'one_hot' is not in struct"), so such a
  mapping is set key by key.
- `models` (the model list) and `tune.space` (the search space) are replaced, not merged:
  `~models` then `+models={...}`, so models the params file has and the mapping lacks are gone,
  with their train@<name> stages (and ranges of another architecture leave the space).
"""
from __future__ import annotations

from pathlib import Path

from rnnops.errors import ParamsError

REPLACED = ("models", "tune.space")  # blocks a mapping replaces instead of merging into


def dvc_set_args(settings: dict, raw: dict, source: str, params_path: Path, add_keys: bool) -> list[str]:
    """The `-S` strings for `settings` (dotted key -> value), applied in order; `raw` (the params
    file as loaded) is changed in place to what DVC will write, for validation by the caller."""
    out = []
    for key, value in settings.items():
        key = str(key)
        parts, node = key.split("."), raw
        if key in REPLACED:
            if not isinstance(value, dict) or not value:
                raise ParamsError(f"{source}: '{key}' replaces that block, so it must be a non-empty mapping "
                                  "(models: model name -> params; tune.space: dotted key -> range). "
                                  "Fix: models: {lstm: {units: 64}, multihot_dense: {}}.")
            for part in parts[:-1]:
                node = node[part]
            out += [f"~{key}", f"+{key}={yaml_scalar(value)}"]
            node[parts[-1]] = value
            continue
        for part in parts[:-1]:
            if add_keys and part not in node:
                node[part] = {}
            if not isinstance(node.get(part), dict):
                what = (f"'{part}' is not a section of {params_path}" if part in node
                        else f"{params_path} has no section '{part}'")
                raise ParamsError(f"{source}: key '{key}': {what}. Fix: use a dotted key of that file (data.max_len).")
            node = node[part]
        present = parts[-1] in node
        if not present and not add_keys:
            raise ParamsError(f"{source}: key '{key}' is not in {params_path}. Fix: use a dotted key of it; "
                              f"under {'.'.join(parts[:-1]) or 'the top'}: {', '.join(map(str, node))}.")
        out += _set_lines(key, node.get(parts[-1]), value, present, source)
        node[parts[-1]] = merged(node[parts[-1]], value) if present else value
    return out


def _set_lines(key: str, old, new, present: bool, source: str) -> list[str]:
    if not present:
        return [f"+{key}={yaml_scalar(new)}"]
    if isinstance(old, dict) and isinstance(new, dict) and not _fits(old, new):
        lines = []
        for sub, value in new.items():
            if "." in str(sub):
                raise ParamsError(f"{source}: key '{key}' adds '{sub}', a key with a dot, "
                                  "which DVC's -S cannot address. Fix: set a key the params file has.")
            lines += _set_lines(f"{key}.{sub}", old.get(sub), value, sub in old, source)
        return lines
    return [f"{key}={yaml_scalar(new)}"]


def _fits(old: dict, new: dict) -> bool:
    """Every key of `new` (and of its nested mappings) is already in `old`."""
    return all(k in old and (not isinstance(v, dict) or not isinstance(old[k], dict) or _fits(old[k], v))
               for k, v in new.items())


def merged(old, new):
    """What DVC's `-S key=value` leaves: a mapping merged key by key (deeply) into a mapping,
    anything else replaced."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: merged(old[k], v) if k in old else v for k, v in new.items()}}
    return new


def yaml_scalar(value) -> str:
    """A value as `dvc exp run -S` parses it (YAML): null, true, 500, [64, 32], text."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6).strip().removesuffix("\n...").strip()
