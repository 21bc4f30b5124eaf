"""The embedded default dataset: date normalisation. A source is one calendar day written the way
a CLDR locale writes it in one of its date formats (Babel, no network), the target is the day in
ISO 8601 ("YYYY-MM-DD"): "3. März 1998" -> "1998-03-03".

Ambiguity: a (locale, format) whose rendering has no letters ("3/3/98", "1998/03/03") cannot be
read without knowing the locale (en_US short is M/d/yy, es_ES short d/M/yy), so its sources carry
the locale as a tag: "[en_US] 3/3/98". Renderings with letters (month names, 年, 월) carry none.
The check renders a probe day per combination. Odd spaces Babel emits (U+202F, U+00A0: every
Unicode space separator) become a plain space, and invisible format marks (U+200F) are dropped.

Held out for generalisation, never in train or val:
- days: a seeded `test_day_fraction` of the calendar days in the year range belongs to test and
  `val_day_fraction` to val; train draws from the rest, so no test day is in training in any format;
- formats: the `held_out` combinations ("fr_FR:long") appear in test only (group "held_out_format").

Counts: train and val spread their pairs evenly over the seen combinations; test spreads `test`
pairs evenly over ALL combinations, held-out ones first in its seeded cycle, so each combination
gets test // k or test // k + 1 pairs (k combinations) and every held-out one appears once
test >= len(held_out). A combination takes distinct days of its split while they last (a
seeded permutation, repeated only when it asks for more pairs than the split has days).
Each split draws from its own seeded stream, so the val and test pairs do not change with `train`.
Same arguments -> the same frame, row for row.
"""
from __future__ import annotations

import datetime
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
from babel import Locale, UnknownLocaleError
from babel.dates import format_date

LOCALES = ["en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL", "ru_RU", "ja_JP",
           "zh_CN", "ko_KR"]
FORMATS = ["full", "long", "medium", "short"]
HELD_OUT = ["fr_FR:long", "de_DE:long", "en_GB:medium", "pt_BR:long"]
SPLITS = ("train", "val", "test")
COLUMNS = ["source", "target", "split", "locale", "format", "group"]
PROBE = datetime.date(1987, 10, 25)  # day > 12 and a four-digit year that a short format would cut


@dataclass(frozen=True)
class Combination:
    locale: str
    format: str
    tagged: bool           # no letters in its rendering: the source starts with "[locale] "
    two_digit_year: bool   # writes the year as yy (needs a span of at most 100 years)

    @property
    def name(self) -> str:
        return f"{self.locale}:{self.format}"


def clean(text: str) -> str:
    """Every Unicode space separator as a plain space; invisible format marks (bidi) dropped."""
    chars = (" " if unicodedata.category(c) == "Zs" else c for c in text)
    return "".join(c for c in chars if unicodedata.category(c) != "Cf")


def has_letters(text: str) -> bool:
    return any(unicodedata.category(c).startswith("L") for c in text)


def render(day: datetime.date, combination: Combination, locale: Locale) -> str:
    text = clean(format_date(day, combination.format, locale=locale))
    return f"[{combination.locale}] {text}" if combination.tagged else text


def combinations(locales: list[str], formats: list[str]) -> list[Combination]:
    """Every locale x format, probed for letters and two-digit years; a bad name is a ValueError."""
    for kind, names in (("locale", locales), ("format", formats)):
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"{kind}(s) listed twice: {twice}")
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown date format(s) {bad}; Babel's are {FORMATS}")
    result = []
    for name in locales:
        try:
            locale = Locale.parse(name)
        except (UnknownLocaleError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown locale '{name}' ({exc}); use CLDR names such as en_US, fr_FR") from None
        for fmt in formats:
            probe = clean(format_date(PROBE, fmt, locale=locale))
            result.append(Combination(name, fmt, not has_letters(probe), str(PROBE.year) not in probe))
    return result


def held_out_names(held_out: list[str], combos: list[Combination]) -> set[str]:
    known = {c.name for c in combos}
    bad = [h for h in held_out if h not in known]
    if bad:
        raise ValueError(f"held_out {bad} not among the locale:format combinations "
                         f"(locales x formats, e.g. {sorted(known)[0]})")
    return set(held_out)


def split_days(seed: int, first_year: int, last_year: int, val_fraction: float,
               test_fraction: float) -> dict[str, np.ndarray]:
    """The calendar days of the year range as ordinals, dealt to the splits by a seeded shuffle."""
    if not 1 <= first_year <= last_year <= 9999:
        raise ValueError(f"years {first_year}..{last_year}: need 1 <= first_year <= last_year <= 9999")
    if min(val_fraction, test_fraction) < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(f"day fractions val {val_fraction}, test {test_fraction}: need >= 0 and a sum < 1")
    first = datetime.date(first_year, 1, 1).toordinal()
    days = np.random.default_rng([seed, 0]).permutation(
        np.arange(first, datetime.date(last_year, 12, 31).toordinal() + 1))
    n_test, n_val = round(len(days) * test_fraction), round(len(days) * val_fraction)
    return {"test": np.sort(days[:n_test]), "val": np.sort(days[n_test:n_test + n_val]),
            "train": np.sort(days[n_test + n_val:])}


def spread(count: int, k: int) -> np.ndarray:
    """`count` pairs over k combinations as evenly as possible, the first ones get the remainder."""
    return np.full(k, count // k) + (np.arange(k) < count % k)


def day_cycle(rng: np.random.Generator, days: np.ndarray, count: int) -> np.ndarray:
    """`count` days: distinct while the split has them, then another shuffle of all of them."""
    reps = -(-count // len(days))
    return np.concatenate([rng.permutation(days) for _ in range(reps)])[:count] if count else days[:0]


def draw_split(split: str, count: int, days: np.ndarray, combos: list[Combination], held: set[str],
               seed: int) -> pd.DataFrame:
    """One split's pairs: `count` spread over its combinations (held-out first for test)."""
    rng = np.random.default_rng([seed, 1 + SPLITS.index(split)])
    order = [combos[i] for i in rng.permutation(len(combos))]
    cycle = [c for c in order if c.name not in held]
    if split == "test":  # held-out first: each appears as soon as test >= len(held_out)
        cycle = [c for c in order if c.name in held] + cycle
    if count and not cycle:
        raise ValueError(f"{split}: every locale:format combination is held out. Fix: hold out fewer")
    if count and not len(days):
        raise ValueError(f"{split}: {count} pairs asked but the split has 0 days. Fix: raise its "
                         "day fraction or widen the year range")
    rows, locales = [], {}
    for combo, n in zip(cycle, spread(count, len(cycle)) if cycle else []):
        locale = locales.setdefault(combo.locale, Locale.parse(combo.locale))
        group = "held_out_format" if combo.name in held else "seen_format"
        for ordinal in day_cycle(rng, days, int(n)):
            day = datetime.date.fromordinal(int(ordinal))
            rows.append((render(day, combo, locale), day.isoformat(), split, combo.locale, combo.format, group))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)  # not ordered by combination


def date_pairs(seed: int, train: int, val: int, test: int, locales: list[str] | None = None,
               formats: list[str] | None = None, held_out: list[str] | None = None,
               first_year: int = 1950, last_year: int = 2049, val_day_fraction: float = 0.1,
               test_day_fraction: float = 0.1) -> pd.DataFrame:
    """Pairs (source, target, split, locale, format, group): train rows, then val, then test."""
    combos = combinations(LOCALES if locales is None else list(locales),
                          FORMATS if formats is None else list(formats))
    held = held_out_names(HELD_OUT if held_out is None else list(held_out), combos)
    short = [c.name for c in combos if c.two_digit_year]
    if short and last_year - first_year >= 100:
        raise ValueError(f"{short[0]} writes two-digit years, ambiguous over {first_year}..{last_year}. "
                         "Fix: a span of at most 100 years (last_year - first_year < 100)")
    if min(train, val, test) < 0:
        raise ValueError(f"pair counts train {train}, val {val}, test {test} must be >= 0")
    days = split_days(seed, first_year, last_year, val_day_fraction, test_day_fraction)
    counts = {"train": train, "val": val, "test": test}
    return pd.concat([draw_split(s, counts[s], days[s], combos, held, seed) for s in SPLITS],
                     ignore_index=True)
