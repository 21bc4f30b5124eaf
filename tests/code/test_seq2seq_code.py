"""The seq2seq task's code without TensorFlow: params validation, the scores (sacrebleu on a
hand-checked pair), the translation-memory peer, the served model's option checks."""
import pytest
import yaml

from rnnops.errors import DataError, ParamsError
from rnnops.params.load import load_params
from tests.conftest import REPO


def params_with(tmp_path, change) -> object:
    raw = yaml.safe_load((REPO / "seq2seq" / "params.yaml").read_text())
    change(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_params(path)


def test_the_shipped_params_load():
    params = load_params(REPO / "seq2seq" / "params.yaml")
    assert params.task == "seq2seq" and list(params.models) == ["no_attention", "bahdanau", "luong", "transformer"]
    assert params.max_decode_len() == 10 and params.decoding.beam_width == 4


@pytest.mark.parametrize("change, message", [
    (lambda r: r["data"].update(source="tsv"), "data.source is tsv but data.path is null"),
    (lambda r: r["data"]["dates"].update(first_year=1900), "ambiguous over more than 100 years"),
    (lambda r: r["models"]["bahdanau"].update(units=33), "units 33 with bidirectional: true must be even"),
    (lambda r: r["models"].update(lstm={"units": 8}), "architecture 'lstm' does not apply to task seq2seq"),
    (lambda r: r["models"]["luong"].update(attention="luong_concat"), "models.luong.attention"),
    (lambda r: r["train"].update(folds=5), "train.folds: a translation model is scored on held-out pairs"),
    (lambda r: r["decoding"].update(beam_width=0), "decoding.beam_width"),
])
def test_bad_params_name_the_key(tmp_path, change, message):
    with pytest.raises(ParamsError) as caught:
        params_with(tmp_path, change)
    assert message in str(caught.value)


def test_encoder_decoders_are_not_bodies_of_other_tasks(tmp_path):
    raw = yaml.safe_load((REPO / "generation" / "params.yaml").read_text())
    raw["models"]["s2s"] = {"architecture": "seq2seq_rnn"}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match="architecture 'seq2seq_rnn' does not apply to task generation"):
        load_params(tmp_path / "p.yaml")


def test_scores_on_a_hand_checked_pair():
    from rnnops.tasks.seq2seq.metrics import translation_scores

    # 1- to 4-gram precisions 6/7, 4/6, 3/5, 2/4; the output is longer, so no brevity penalty:
    # BLEU = (6/7 * 4/6 * 3/5 * 2/4) ** (1/4) = 0.643459...
    words = translation_scores(["the cat sat on the red mat"], ["the cat sat on the mat"], "word")
    assert words["bleu"] == pytest.approx(100 * (6 / 7 * 4 / 6 * 3 / 5 * 2 / 4) ** 0.25, abs=1e-9)
    assert words["exact_match"] == 0.0 and words["cer"] == pytest.approx(4 / 22)   # "red " inserted
    dates = translation_scores(["1998-03-03", "1998-03-04"], ["1998-03-03", "1998-03-03"], "char")
    assert dates["exact_match"] == 0.5 and dates["cer"] == pytest.approx(1 / 20)
    same = translation_scores(["1998-03-03"], ["1998-03-03"], "char")
    assert same == {"exact_match": 1.0, "cer": 0.0, "chrf": 100.0, "bleu": pytest.approx(100.0)}


def test_scores_by_group_and_length_bins():
    from rnnops.tasks.seq2seq.metrics import by_group, length_bins

    assert length_bins([1, 10, 11, 15, 30, 31]) == ["01-10", "01-10", "11-15", "11-15", "26-30", ">30"]
    groups = by_group(["a", "b", "c"], ["a", "x", "c"], ["seen", "seen", "held"], "char")
    assert groups["seen"]["pairs"] == 2 and groups["seen"]["exact_match"] == 0.5
    # a one-character output has no 2- to 4-grams: sacrebleu's BLEU is 0 even when it is exact
    assert groups["held"] == {"pairs": 1, "exact_match": 1.0, "cer": 0.0, "chrf": 100.0, "bleu": 0.0}


def test_the_translation_memory_returns_the_nearest_training_target():
    from rnnops.tasks.seq2seq.baselines import TranslationMemory

    memory = TranslationMemory(["3 mars 1998", "4 mai 2001", "March 3, 1998"], ["1998-03-03", "2001-05-04", "x"])
    assert memory.translate(["4 mai 2002", "3 mars 1999", "March 3, 1999"]) == ["2001-05-04", "1998-03-03", "x"]


def test_served_options_are_checked():
    from rnnops.tasks.seq2seq.serving import checked_options

    assert checked_options({"beam_width": "3", "attention": True}) == {
        "beam_width": 3, "length_penalty": 0.0, "max_len": 0, "attention": True}
    for bad, message in (({"beam": 2}, "unknown translation param(s) ['beam']"),
                         ({"beam_width": 0}, "beam_width 0 (1..64)"),
                         ({"beam_width": "wide"}, "beam_width and max_len are integers"),
                         ({"length_penalty": -1}, "length_penalty -1.0 (>= 0)")):
        with pytest.raises(DataError, match=__import__("re").escape(message)):
            checked_options(bad)


def test_a_source_longer_than_the_model_reads_is_refused_naming_it():
    from rnnops.tasks.seq2seq.translate import source_ids
    from rnnops.tasks.seq2seq.vocabulary import SideVocabulary

    vocabulary = SideVocabulary.fit(["abc", "abd"], "char")
    ids = source_ids(vocabulary, ["ab", "zz"], 4)
    assert ids.tolist() == [[vocabulary.encode(["a"], 1)[0, 0], vocabulary.encode(["b"], 1)[0, 0], 0, 0], [1, 1, 0, 0]]
    with pytest.raises(DataError, match=r"source 2 has 5 tokens; this model reads at most 4 \(1 source\(s\) too long\)"):
        source_ids(vocabulary, ["ab", "abcab"], 4)
