"""The generation task's data: language-model windows shift by exactly one token; documents are
split whole (no text on both sides of a split), seeded; the vocabulary sees training documents
only; prepare's counts are exact on a hand-built corpus; bad corpora are errors naming the file,
split or key; held-out scoring scores every next token once with enough context."""
from itertools import permutations

import numpy as np
import pytest
import yaml

from rnnops.data.batches import token_windows
from rnnops.errors import DataError
from rnnops.params.load import load_params
from rnnops.tasks.generation import scoring
from rnnops.tasks.generation.corpus import SPLITS, load_corpus, split_documents
from rnnops.tasks.generation.params import GenerationDataParams
from rnnops.tasks.generation.prepare import prepare
from rnnops.tasks.generation.vocabulary import EOT, PAD, SPECIALS, UNK, Vocabulary
from tests.conftest import REPO

DEFAULTS = yaml.safe_load((REPO / "generation" / "params.yaml").read_text())


def data_params(**changes) -> GenerationDataParams:
    """generation/params.yaml's data section with `changes`."""
    return GenerationDataParams.model_validate({**DEFAULTS["data"], **changes})


def write_lines(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- token windows -----------------------------------------------------------------------------

@pytest.mark.parametrize("length, seq_len, stride", [
    (50, 8, 8), (50, 8, 1), (50, 8, 3), (50, 8, 13), (9, 8, 8), (10, 8, 1), (33, 4, 4), (200, 64, 32)])
def test_token_windows_targets_are_the_inputs_shifted_by_one_token(length, seq_len, stride):
    stream = np.arange(100, 100 + length)  # a token's value names its position
    inputs, targets = token_windows(stream, seq_len, stride)
    starts = list(range(0, length - seq_len, stride))  # every start with seq_len + 1 tokens left
    assert inputs.shape == targets.shape == (len(starts), seq_len)
    assert inputs.dtype == targets.dtype == np.int32
    for i, start in enumerate(starts):
        assert inputs[i].tolist() == stream[start:start + seq_len].tolist()
        assert targets[i, :-1].tolist() == inputs[i, 1:].tolist()
        assert targets[i, -1] == stream[start + seq_len]  # the token after the window


@pytest.mark.parametrize("length", [0, 1, 7, 8])
def test_a_stream_shorter_than_seq_len_plus_one_gives_no_window(length):
    inputs, targets = token_windows(np.arange(length), 8, 1)
    assert inputs.shape == targets.shape == (0, 8)
    assert token_windows(np.arange(9), 8, 5)[0].shape == (1, 8)  # seq_len + 1: exactly one


# --- splits ------------------------------------------------------------------------------------

def test_documents_are_split_whole_into_train_val_and_test():
    documents = [f"document {i}" for i in range(50)]
    splits = split_documents(documents, data_params(val_fraction=0.1, test_fraction=0.2), seed=7)
    assert [len(splits[s]) for s in SPLITS] == [35, 5, 10]
    placed = [d for s in SPLITS for d in splits[s]]
    assert sorted(placed) == sorted(documents) and len(placed) == len(set(placed))  # each once
    for s in SPLITS:  # whole documents, kept in file order within a split
        assert splits[s] == sorted(splits[s], key=documents.index)


def test_splitting_is_seeded():
    documents = [f"document {i}" for i in range(50)]
    data = data_params()
    first = split_documents(documents, data, seed=1)
    assert split_documents(documents, data, seed=1) == first
    assert split_documents(documents, data, seed=2)["test"] != first["test"]


def test_blank_lines_are_dropped_and_every_line_is_a_document_of_one_split(tmp_path):
    lines = [f"line number {i}" for i in range(30)]
    path = write_lines(tmp_path / "c.txt", lines[:10] + ["", "   "] + lines[10:] + ["\t"])
    data = data_params(source="txt", path=str(path), subsample=None)
    corpus = load_corpus(data, seed=3)
    assert corpus.dropped_empty == 3 and corpus.origin == str(path)
    assert [len(corpus.documents[s]) for s in SPLITS] == [24, 3, 3]
    placed = [d for s in SPLITS for d in corpus.documents[s]]
    assert sorted(placed) == sorted(lines)
    assert load_corpus(data, seed=3).documents == corpus.documents
    assert load_corpus(data, seed=4).documents != corpus.documents


def test_a_subsample_of_the_tweets_is_a_seeded_partition():
    data = data_params(source="tweets", path=None, subsample=30)
    corpus = load_corpus(data, seed=5)
    placed = [d for s in SPLITS for d in corpus.documents[s]]
    assert [len(corpus.documents[s]) for s in SPLITS] == [24, 3, 3]
    assert all(d.strip() for d in placed)
    assert all(not set(corpus.documents[a]) & set(corpus.documents[b])
               for a, b in [("train", "val"), ("train", "test"), ("val", "test")])
    assert load_corpus(data, seed=5).documents == corpus.documents
    assert load_corpus(data, seed=6).documents != corpus.documents


def test_a_whole_text_is_cut_into_contiguous_parts_at_line_boundaries(tmp_path):
    lines = [f"line {i}" for i in range(17)] + ["", "line 18", "line 19"]  # a blank line stays
    text = "\n".join(lines)
    (tmp_path / "book.txt").write_text(text, encoding="utf-8")
    data = data_params(source="txt", path=str(tmp_path / "book.txt"), documents="whole")
    corpus = load_corpus(data, seed=11)
    assert all(len(corpus.documents[s]) == 1 for s in SPLITS)
    train, val, test = (corpus.documents[s][0] for s in SPLITS)
    assert "\n".join([train, val, test]) == text  # train first, then val, then test
    assert (train.split("\n"), val.split("\n"), test.split("\n")) == (lines[:16], lines[16:18], lines[18:])
    assert load_corpus(data, seed=12).documents == corpus.documents  # no shuffling of one text


def test_a_whole_text_of_too_few_lines_is_an_error(tmp_path):
    (tmp_path / "short.txt").write_text("one\ntwo", encoding="utf-8")
    with pytest.raises(DataError, match=r"short\.txt: 2 line\(s\) cannot be cut into train, val and test"):
        load_corpus(data_params(source="txt", path=str(tmp_path / "short.txt"), documents="whole"), seed=1)


# --- vocabulary --------------------------------------------------------------------------------

def test_special_ids_and_the_stream_layout():
    assert (PAD, UNK, EOT) == (0, 1, 2) and SPECIALS == ["<pad>", "<unk>", "<eot>"]
    vocabulary = Vocabulary.fit(["abba", "ab"], "char", False, True, min_count=1, size=10)
    assert vocabulary.tokens == ["<pad>", "<unk>", "<eot>", "a", "b"]
    a, b = vocabulary.ids["a"], vocabulary.ids["b"]
    assert vocabulary.stream(["ab", "ba"]).tolist() == [EOT, a, b, EOT, b, a, EOT]
    assert vocabulary.stream(["ab", "ba"]).dtype == np.int32
    assert vocabulary.stream([]).tolist() == [EOT]
    assert vocabulary.prompt("") == [EOT]
    assert vocabulary.prompt("ba") == [EOT, b, a]


def test_min_count_and_vocab_size_limit_the_tokens():
    documents = ["aaaaabbbbcccdde"]  # a 5, b 4, c 3, d 2, e 1
    by_count = Vocabulary.fit(documents, "char", False, True, min_count=3, size=100)
    assert by_count.tokens[3:] == ["a", "b", "c"]  # most frequent first
    by_size = Vocabulary.fit(documents, "char", False, True, min_count=1, size=5)
    assert len(by_size) == 5 and by_size.tokens[3:] == ["a", "b"]
    assert by_size.encode("abcde") == [3, 4, UNK, UNK, UNK]
    assert Vocabulary.fit(["ba", "ab"], "char", False, True, 1, 100).tokens[3:] == ["b", "a"]  # ties: first seen
    assert Vocabulary.fit(["ab", "b"], "char", False, True, 1, 100).tokens[3:] == ["b", "a"]  # counts in all documents


def test_encode_and_decode_round_trip_at_the_character_level():
    vocabulary = Vocabulary.fit(["Hello, world!", "How are you?"], "char", False, True, 1, 100)
    for text in ["Hello, world!", "How are you?", "wore, row", ""]:
        assert vocabulary.decode(vocabulary.encode(text)) == text
        assert vocabulary.encode(vocabulary.decode(vocabulary.encode(text))) == vocabulary.encode(text)
    assert vocabulary.decode(vocabulary.prompt("wore") + [EOT, PAD]) == "wore"  # markers dropped
    assert vocabulary.decode(vocabulary.encode("Hello, qj")) == "Hello, \ufffd\ufffd"  # unknown: U+FFFD


def test_encode_and_decode_round_trip_at_the_word_level():
    vocabulary = Vocabulary.fit(["The cat sat, the dog ran.", "A cat ran!"], "word", False, True, 1, 100)
    assert vocabulary.encode("the cat") == [vocabulary.ids["the"], vocabulary.ids["cat"]]
    ids = vocabulary.encode("The dog sat, a cat ran!")
    assert UNK in ids  # "a" was only seen as "A"
    in_vocabulary = "The dog sat, the cat ran!"
    ids = vocabulary.encode(in_vocabulary)
    assert UNK not in ids and len(ids) == 8  # words and punctuation marks, spaces are not tokens
    assert vocabulary.decode(ids) == "The dog sat , the cat ran !"
    assert vocabulary.encode(vocabulary.decode(ids)) == ids


def test_lowercase_and_html_are_applied_when_fitting_and_encoding():
    vocabulary = Vocabulary.fit(["Big<br />CAT"], "word", True, True, 1, 100)
    assert vocabulary.tokens[3:] == ["big", "cat"]
    assert vocabulary.encode("BIG<i>Cat</i>") == [3, 4]


# --- prepare end to end ------------------------------------------------------------------------

GREEK = [chr(0x3B1 + i) for i in range(20)]  # one letter per document, 5 times: count >= min_count


def hand_built_corpus() -> list[str]:
    """20 documents of exactly 12 characters: a permutation of abcdef, a space and five times the
    document's own Greek letter; blank lines between them."""
    documents = ["".join(p) + " " + GREEK[i] * 5 for i, p in enumerate(list(permutations("abcdef"))[:20])]
    assert all(len(d) == 12 for d in documents)
    return documents


def generation_params(tmp_path, corpus_lines: list[str], **train_changes):
    raw = yaml.safe_load((REPO / "generation" / "params.yaml").read_text())
    corpus = write_lines(tmp_path / "corpus.txt", corpus_lines)
    raw["data"].update({"source": "txt", "path": str(corpus.resolve()), "subsample": None})
    raw["train"].update({"seq_len": 8, **train_changes.pop("train", {})})
    raw["tune"]["space"]["train.seq_len"] = {"type": "categorical", "choices": train_changes.pop("choices", [4, 8, 16])}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_params(path)


def test_prepare_counts_documents_and_tokens_exactly(tmp_path):
    documents = hand_built_corpus()
    params = generation_params(tmp_path, documents[:5] + ["", "  "] + documents[5:] + ["\t"])
    prep = prepare(params)
    stats, data = prep.stats, prep.data
    assert stats["documents"] == {"train": 16, "val": 2, "test": 2}
    # <eot> doc <eot> doc ... <eot>: 1 + documents * (12 + 1)
    assert stats["tokens"] == {"train": 1 + 16 * 13, "val": 1 + 2 * 13, "test": 1 + 2 * 13}
    assert stats["dropped_empty"] == 3 and stats["level"] == "char"
    assert stats["dataset"] == "generation-corpus-char" and stats["origin"] == str((tmp_path / "corpus.txt").resolve())
    # the vocabulary is fitted on the 16 training documents: a-f, the space and their 16 letters
    train_letters = {d[-1] for d in data.documents["train"]}
    assert stats["vocab_size"] == len(data.vocabulary) == 3 + 7 + 16
    assert set(data.vocabulary.tokens[3:]) == set("abcdef ") | train_letters
    assert stats["unknown_share"] == {"train": 0.0, "val": round(10 / 27, 6), "test": round(10 / 27, 6)}
    for s in SPLITS:
        stream = data.streams[s]
        assert stream.tolist() == data.vocabulary.stream(data.documents[s]).tolist()
        assert len(stream) == stats["tokens"][s] and (stream == EOT).sum() == stats["documents"][s] + 1
        for document in data.documents[s]:  # held-out letters were never counted: <unk>
            expected = UNK if s != "train" else data.vocabulary.ids[document[-1]]
            assert data.vocabulary.encode(document)[-5:] == [expected] * 5
    assert sorted(d for s in SPLITS for d in data.documents[s]) == sorted(documents)
    assert prep.plots["lengths.csv"]["tokens"].tolist() == [12] * 20


def test_a_character_seen_only_in_held_out_documents_is_unknown():
    vocabulary = Vocabulary.fit(["abc", "cab"], "char", False, True, min_count=1, size=100)
    assert vocabulary.encode("abz") == [vocabulary.ids["a"], vocabulary.ids["b"], UNK]
    assert vocabulary.stream(["z"]).tolist() == [EOT, UNK, EOT]


# --- bad input ---------------------------------------------------------------------------------

def test_a_corpus_of_blank_lines_is_an_error_naming_the_file(tmp_path):
    path = write_lines(tmp_path / "blank.txt", ["", "   ", "\t", ""])
    with pytest.raises(DataError, match=r"blank\.txt: the corpus has no non-empty document"):
        load_corpus(data_params(source="txt", path=str(path)), seed=1)


@pytest.mark.parametrize("seq_len, choices, need", [(40, [4, 8], 41), (8, [8, 32], 33)])
def test_a_split_shorter_than_the_longest_window_is_an_error(tmp_path, seq_len, choices, need):
    params = generation_params(tmp_path, hand_built_corpus(), train={"seq_len": seq_len}, choices=choices)
    assert params.longest_window() == need - 1
    with pytest.raises(DataError) as error:
        prepare(params)
    message = str(error.value)
    assert "the val split has 27 tokens, test split has 27 tokens" in message
    assert f"a window needs {need}" in message and "train.seq_len" in message
    assert "train split" not in message  # 209 tokens: long enough


def test_a_missing_csv_text_column_is_an_error_naming_data_text_column(tmp_path):
    (tmp_path / "t.csv").write_text("body,label\nhello,1\nworld,0\n")
    with pytest.raises(DataError, match=r"t\.csv: column\(s\) not found: data\.text_column='text'"):
        load_corpus(data_params(source="csv", path=str(tmp_path / "t.csv")), seed=1)


# --- held-out scoring --------------------------------------------------------------------------

@pytest.mark.parametrize("seq_len", [2, 3, 4, 5, 8, 16, 33])
def test_the_window_plan_scores_every_target_once_with_half_a_window_of_context(seq_len):
    for length in range(1, 4 * seq_len + 7):
        plan = scoring.window_plan(length, seq_len)
        width = min(seq_len, length)
        scored = []
        for k, (start, skip) in enumerate(plan):
            assert 0 <= start and start + width <= length and 0 <= skip < width
            assert k == 0 or skip >= seq_len // 2, (length, seq_len, plan)
            scored += range(start + skip, start + width)
        assert plan[0] == (0, 0)
        assert scored == list(range(length)), (length, seq_len, plan)


def test_token_probabilities_are_the_models_probabilities_of_each_next_token():
    vocab = 5
    rng = np.random.default_rng(0)
    table = rng.random((vocab + 1, vocab, vocab))  # [previous token + 1 (0: none), current, next]
    table /= table.sum(axis=-1, keepdims=True)
    calls = []

    def bigram_model(x, training=False):  # reads the current and the previous token of its window
        assert training is False
        x = np.asarray(x)
        calls.append(x.shape)
        previous = np.concatenate([np.zeros((len(x), 1), int), x[:, :-1] + 1], axis=1)
        return table[previous, x]

    stream = rng.integers(0, vocab, 103)
    for seq_len, batch_windows in [(8, 256), (8, 2), (7, 3), (200, 256)]:
        calls.clear()
        got = scoring.token_probabilities(bigram_model, stream, seq_len, batch_windows)
        expected = [table[(stream[i - 1] + 1) if i else 0, stream[i], stream[i + 1]] for i in range(len(stream) - 1)]
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == np.float64
        windows = len(scoring.window_plan(len(stream) - 1, seq_len))
        assert sum(shape[0] for shape in calls) == windows and all(s[0] <= batch_windows for s in calls)
    assert scoring.lm_scores(np.array([0.5, 0.25]))["bits_per_token"] == 1.5
