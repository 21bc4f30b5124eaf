"""The seq2seq task's data: date pairs are reproducible from the seed, every target is the day its
source writes, test days and held-out formats never reach train or val, numeric formats carry
their locale tag; user pair files are read exactly or rejected naming the file and line; the
per-side vocabularies give fixed special ids and teacher-forcing arrays shifted by one token."""
import datetime
import gzip
import json
import re

import numpy as np
import pandas as pd
import pytest
from babel.dates import format_date

from rnnops.errors import DataError
from rnnops.tasks.seq2seq import dates
from rnnops.tasks.seq2seq.pairs import limit_lengths, read_csv_pairs, read_tsv, split_pairs
from rnnops.tasks.seq2seq.vocabulary import (END, PAD, SPECIALS, START, UNK, SideVocabulary, source_array,
                                             target_array)

SMALL = dict(train=400, val=60, test=144)


@pytest.fixture(scope="module")
def frame():
    return dates.date_pairs(7, **SMALL)


def combo(locale, fmt):
    return next(c for c in dates.combinations([locale], [fmt]))


# --- dates --------------------------------------------------------------------------------------

def test_same_seed_gives_the_same_frame_and_another_seed_another(frame):
    again = dates.date_pairs(7, **SMALL)
    pd.testing.assert_frame_equal(frame, again)
    assert frame.to_csv().encode() == again.to_csv().encode()
    other = dates.date_pairs(8, **SMALL)
    assert not frame[["source", "target"]].equals(other[["source", "target"]])
    assert list(frame.columns) == ["source", "target", "split", "locale", "format", "group"]
    assert frame.split.value_counts().to_dict() == {"train": 400, "test": 144, "val": 60}


@pytest.mark.parametrize("locale, fmt, text", [
    ("de_DE", "long", "3. März 1998"),
    ("en_US", "full", "Tuesday, March 3, 1998"),
    ("en_US", "short", "[en_US] 3/3/98"),
    ("es_ES", "short", "[es_ES] 3/3/98"),
    ("ja_JP", "short", "[ja_JP] 1998/03/03"),
    ("ja_JP", "long", "1998年3月3日"),
    ("ko_KR", "medium", "[ko_KR] 1998. 3. 3."),
    ("ru_RU", "long", "3 марта 1998 г."),  # Babel writes U+202F before г.
])
def test_known_dates_render_as_written(locale, fmt, text):
    from babel import Locale
    assert dates.render(datetime.date(1998, 3, 3), combo(locale, fmt), Locale.parse(locale)) == text


def test_every_target_is_the_iso_day_its_source_writes(frame):
    for row in frame.itertuples():
        day = datetime.date.fromisoformat(row.target)
        assert row.target == day.isoformat() and 1950 <= day.year <= 2049
        written = format_date(day, row.format, locale=row.locale).replace("\u202f", " ").replace("\xa0", " ")
        assert row.source.removeprefix(f"[{row.locale}] ") == written
        assert "\u202f" not in row.source and "\xa0" not in row.source


@pytest.mark.parametrize("locale, fmt, pattern, order", [
    ("en_US", "short", r"\[en_US\] (\d+)/(\d+)/(\d\d)", "mdy"),
    ("es_ES", "short", r"\[es_ES\] (\d+)/(\d+)/(\d\d)", "dmy"),
    ("de_DE", "medium", r"\[de_DE\] (\d\d)\.(\d\d)\.(\d{4})", "dmy"),
    ("ja_JP", "short", r"\[ja_JP\] (\d{4})/(\d\d)/(\d\d)", "ymd"),
])
def test_numeric_sources_parse_back_to_their_target(locale, fmt, pattern, order):
    pairs = dates.date_pairs(3, train=200, val=0, test=0, locales=[locale], formats=[fmt], held_out=[])
    for source, target in zip(pairs.source, pairs.target):
        parts = dict(zip(order, map(int, re.fullmatch(pattern, source).groups())))
        year = parts["y"] if parts["y"] > 99 else parts["y"] + (1900 if parts["y"] >= 50 else 2000)
        assert datetime.date(year, parts["m"], parts["d"]).isoformat() == target


def test_test_days_never_appear_in_train_or_val(frame):
    seen = set(frame.target[frame.split != "test"])
    assert not seen & set(frame.target[frame.split == "test"])
    assert not set(frame.target[frame.split == "train"]) & set(frame.target[frame.split == "val"])
    days = dates.split_days(7, 1950, 2049, 0.1, 0.1)  # 100 years, 25 of them leap
    iso = {s: {datetime.date.fromordinal(int(o)).isoformat() for o in d} for s, d in days.items()}
    assert sum(map(len, iso.values())) == 36525 and len(iso["test"]) == 3652 == len(iso["val"])
    assert all(set(frame.target[frame.split == s]) <= iso[s] for s in dates.SPLITS)


def test_held_out_formats_appear_in_test_only_and_all_of_them_do(frame):
    names = frame.locale + ":" + frame.format
    assert set(names[frame.split != "test"]).isdisjoint(dates.HELD_OUT)
    assert set(names[frame.group == "held_out_format"]) == set(dates.HELD_OUT)
    assert set(frame.split[frame.group == "held_out_format"]) == {"test"}
    test_counts = names[frame.split == "test"].value_counts()
    assert len(test_counts) == 48 and set(test_counts) == {3}  # 144 test pairs over 48 combinations
    assert set(names[frame.split == "train"].value_counts()) == {400 // 44, 400 // 44 + 1}
    few = dates.date_pairs(7, train=50, val=10, test=4)  # fewer test pairs than combinations
    assert set((few.locale + ":" + few.format)[few.split == "test"]) == set(dates.HELD_OUT)


def test_val_and_test_pairs_do_not_depend_on_the_training_count(frame):
    bigger = dates.date_pairs(7, train=900, val=60, test=144)
    for split in ("val", "test"):
        pd.testing.assert_frame_equal(frame[frame.split == split].reset_index(drop=True),
                                      bigger[bigger.split == split].reset_index(drop=True))


def test_formats_without_letters_carry_the_locale_tag_and_lettered_ones_do_not(frame):
    combos = {c.name: c for c in dates.combinations(dates.LOCALES, dates.FORMATS)}
    assert {n for n, c in combos.items() if c.tagged} == {
        "en_US:short", "en_GB:short", "fr_FR:short", "de_DE:medium", "de_DE:short", "es_ES:short",
        "it_IT:short", "pt_BR:short", "nl_NL:short", "ru_RU:short", "ja_JP:medium", "ja_JP:short",
        "zh_CN:short", "ko_KR:medium", "ko_KR:short"}
    for row in frame.itertuples():
        tagged = combos[f"{row.locale}:{row.format}"].tagged
        assert row.source.startswith(f"[{row.locale}] ") == tagged
        assert dates.has_letters(row.source) if not tagged else not dates.has_letters(row.source[8:])


@pytest.mark.parametrize("changes, message", [
    (dict(locales=["en_US", "xx_YY"]), "xx_YY"),
    (dict(formats=["long", "tiny"]), "tiny"),
    (dict(held_out=["fr_FR:long", "fr_FR:tiny"]), "fr_FR:tiny"),
    (dict(held_out=["de_DE:long"], locales=["en_US", "fr_FR"]), "de_DE:long"),
    (dict(first_year=1900, last_year=2049), "two-digit"),
    (dict(test_day_fraction=0.0), "0 days"),
    (dict(locales=["en_US"], formats=["long"], held_out=["en_US:long"]), "held out"),
])
def test_bad_date_arguments_are_value_errors_naming_the_culprit(changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        dates.date_pairs(0, **{**SMALL, **changes})


# --- pair files ---------------------------------------------------------------------------------

TSV = "Go.\tVa !\tCC-BY 2.0 #1\r\nHi.\tSalut.\n\n   \nRun!\tCours !\textra\tmore\n"


def test_tsv_reads_pairs_ignoring_extra_columns_and_blank_lines(tmp_path):
    path = tmp_path / "fra.txt"
    path.write_bytes(b"\xef\xbb\xbf" + TSV.encode())  # with a BOM
    pairs = read_tsv(path)
    assert pairs.to_dict("list") == {"source": ["Go.", "Hi.", "Run!"], "target": ["Va !", "Salut.", "Cours !"],
                                     "line": [1, 2, 5]}
    assert pairs.attrs == {"origin": str(path), "blank_lines": 2}
    assert read_tsv(path, max_rows=2).source.tolist() == ["Go.", "Hi."]


@pytest.mark.parametrize("name", ["fra.tsv.gz", "fra.tsv"])
def test_tsv_reads_gzip_by_its_magic_bytes(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(TSV.encode()))
    assert read_tsv(path).target.tolist() == ["Va !", "Salut.", "Cours !"]


@pytest.mark.parametrize("content, message", [
    (b"a\tb\nc\td\nno tab here\n", "pairs.tsv: line 3: no tab"),
    (b"a\tb\n  \tsomething\n", "pairs.tsv: line 2: the source is empty"),
    (b"a\tb\nc\td\ne\t \n", "pairs.tsv: line 3: the target is empty"),
    (b"a\tb\nc\td\ne\tf\ng\t\xe9t\xe9\n", "pairs.tsv: line 4, byte 3 of the line: bytes e9"),
    (b"", "the file is empty"),
    (b"\n\n", "only blank lines"),
])
def test_bad_tsv_lines_are_errors_naming_file_and_line(tmp_path, content, message):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=re.escape(message)):
        read_tsv(path)


def test_a_gz_name_without_gzip_data_is_an_error(tmp_path):
    path = tmp_path / "fra.tsv.gz"
    path.write_bytes(b"<html>not found</html>\n")
    with pytest.raises(DataError, match="not gzip"):
        read_tsv(path)


def test_too_long_pairs_are_cut_with_a_count_or_an_error_naming_the_line(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("abc\tone two\nabcdefgh\tone\nab\tone two three four\nabcdefghij\tone two three\n")
    pairs = read_tsv(path)
    kept, dropped = limit_lengths(pairs, 5, 3, "cut", "char", "word")
    assert dropped == 3 and kept.source.tolist() == ["abc"] and kept.attrs["origin"] == str(path)
    kept, dropped = limit_lengths(pairs, None, 3, "cut", "char", "word")
    assert dropped == 1 and kept.line.tolist() == [1, 2, 4]
    with pytest.raises(DataError, match=re.escape(f"{path}: line 2: the source has 8 char tokens, over the maximum 5")):
        limit_lengths(pairs, 5, 3, "error", "char", "word")
    assert limit_lengths(pairs, 10, 4, "error", "char", "word")[1] == 0


def test_csv_pairs_read_two_columns_and_name_missing_ones_and_empty_cells(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("id,en,de\n1,Hello,Hallo\n\n2,\"Yes, sir\",Jawohl\n")
    pairs = read_csv_pairs(path, "en", "de")
    assert pairs.to_dict("list") == {"source": ["Hello", "Yes, sir"], "target": ["Hallo", "Jawohl"], "line": [2, 4]}
    with pytest.raises(DataError, match=re.escape("['fr'] not found; the file has ['id', 'en', 'de']")):
        read_csv_pairs(path, "en", "fr")
    path.write_text("en,de\nHello,Hallo\nBye,\n")
    with pytest.raises(DataError, match=re.escape("pairs.csv: line 3: the target cell is empty")):
        read_csv_pairs(path, "en", "de")
    path.write_bytes(b"en,de\nHello,Hallo\nBye,Tsch\xfc\xdf\n")
    with pytest.raises(DataError, match=re.escape("pairs.csv: line 3, byte 9 of the line: bytes fc")):
        read_csv_pairs(path, "en", "de")


def test_split_keeps_identical_sources_together_and_is_seeded():
    sources = [f"s{i % 40}" for i in range(200)]  # each source 5 times
    pairs = pd.DataFrame({"source": sources, "target": [f"t{i}" for i in range(200)], "line": range(1, 201)})
    split = split_pairs(pairs, 1, 0.1, 0.2)
    assert split.drop(columns="split").equals(pairs)
    assert split.split.tolist() == split_pairs(pairs, 1, 0.1, 0.2).split.tolist()
    assert split.split.tolist() != split_pairs(pairs, 2, 0.1, 0.2).split.tolist()
    assert split.groupby("split").source.nunique().to_dict() == {"test": 8, "train": 28, "val": 4}
    assert split.split.value_counts().to_dict() == {"train": 140, "test": 40, "val": 20}
    assert (split.groupby("source").split.nunique() == 1).all()


# --- vocabulary ---------------------------------------------------------------------------------

def test_vocabulary_ids_specials_then_frequency_with_ties_by_token():
    vocab = SideVocabulary.fit(["abca", "cb", "d"], "char")
    assert (PAD, UNK, START, END) == (0, 1, 2, 3) and vocab.id_to_token == SPECIALS + ["a", "b", "c", "d"]
    assert vocab.size == 8
    assert SideVocabulary.fit(["abca", "cb", "d"], "char", min_count=2).id_to_token == SPECIALS + ["a", "b", "c"]
    assert SideVocabulary.fit(["abca", "cb", "d"], "char", max_size=5).id_to_token == SPECIALS + ["a"]
    assert vocab.encode(["abz", ""], 4).tolist() == [[4, 5, UNK, 0], [0, 0, 0, 0]]
    assert vocab.encode(["ab"], 4, add_start=True, add_end=True).dtype == np.int32
    with pytest.raises(ValueError, match="over the array length 3"):
        vocab.encode(["abcd"], 3)


def test_encode_decode_round_trip_at_both_levels():
    chars = SideVocabulary.fit(["1998-03-03", "2049-12-31"], "char")
    texts = ["1998-12-31", "1957-06-07"]
    assert chars.decode_batch(target_array(chars, texts, 10)) == ["1998-12-31", "19\ufffd\ufffd-0\ufffd-0\ufffd"]
    words = SideVocabulary.fit(["Hello, world! I don't know 3/3/98.", "Tom's 1998-03-03 (yes)"], "word")
    assert words.tokens("Hello, world!") == ["Hello", ",", "world", "!"]
    for text in ["Hello, world!", "I don't know 3/3/98.", "Tom's 1998-03-03 (yes)"]:
        assert words.decode(source_array(words, [text], 20)[0]) == text
    assert words.decode([START, words.token_to_id["Hello"], END, words.token_to_id["world"]]) == "Hello"
    lower = SideVocabulary.fit(["ABC"], "char", lowercase=True)
    assert lower.id_to_token[4:] == ["a", "b", "c"] and lower.decode(lower.encode(["CAB"], 3)[0]) == "cab"


def test_target_array_is_start_tokens_end_then_padding_shifted_for_teacher_forcing():
    vocab = SideVocabulary.fit(["abc", "ab"], "char")
    target = target_array(vocab, ["abc", "a", "cab"], 4)
    assert target.shape == (3, 6) and target.dtype == np.int32
    target_in, target_out = target[:, :-1], target[:, 1:]
    assert (target_in[:, 0] == START).all()
    assert target_out.tolist()[1] == [vocab.token_to_id["a"], END, 0, 0, 0]
    assert [row.tolist().index(END) for row in target_out] == [3, 1, 3]
    real = target_out != PAD
    assert (target_in[:, 1:][real[:, :-1]] == target_out[:, :-1][real[:, :-1]]).all()
    assert source_array(vocab, ["abc"], 5).tolist() == [[4, 5, 6, 0, 0]]


def test_vocabulary_json_round_trip():
    vocab = SideVocabulary.fit(["Hello, world!"], "word", lowercase=True)
    again = SideVocabulary.from_json(json.loads(json.dumps(vocab.to_json())))
    assert (again.id_to_token, again.level, again.lowercase) == (vocab.id_to_token, "word", True)
    assert again.encode(["hello world"], 3).tolist() == vocab.encode(["hello world"], 3).tolist()
    with pytest.raises(ValueError, match="starts with"):
        SideVocabulary.from_json({"level": "char", "tokens": ["a", "b"]})
