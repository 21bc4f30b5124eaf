"""Teacher forcing through the shared loop: the decoder reads <s> + target and learns target +
</s>; padded target positions are never scored (loss and accuracy are over real tokens only)."""
import numpy as np

from rnnops.data.batches import pair_datasets
from rnnops.models.bodies import DatasetSpec, build_model
from rnnops.params.architectures import Seq2SeqRnnParams
from rnnops.params.schema import EarlyStopping, ReduceLR
from rnnops.tasks.seq2seq.params import Seq2SeqTrainParams
from rnnops.training.fit import compile_model, fit_model

SPEC = DatasetSpec(vocab_size=12, num_classes=9, max_len=5, target_len=4)
SOURCE = np.array([[4, 5, 6, 0, 0], [7, 8, 0, 0, 0], [9, 10, 11, 4, 5]], np.int32)
TARGET = np.array([[2, 4, 5, 3, 0], [2, 6, 3, 0, 0], [2, 7, 8, 4, 3]], np.int32)   # <s> tokens </s> 0s


def train_params(**changes):
    base = dict(epochs=2, batch_size=2, optimizer="adam", learning_rate=0.01, clipnorm=None,
                early_stopping={"monitor": "val_loss", "patience": 1},
                reduce_lr={"factor": 0.5, "patience": 1, "min_lr": 0.0001})
    return Seq2SeqTrainParams.model_validate({**base, **changes})


def test_the_decoder_reads_the_target_shifted_by_one():
    (inputs, out, weights), = pair_datasets({"train": (SOURCE, TARGET), "val": (SOURCE, TARGET)}, 3, 0)[1]
    assert inputs["target_in"].numpy().tolist() == [[2, 4, 5, 3], [2, 6, 3, 0], [2, 7, 8, 4]]
    assert out.numpy().tolist() == [[4, 5, 3, 0], [6, 3, 0, 0], [7, 8, 4, 3]]
    assert weights.numpy().tolist() == [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]]
    assert inputs["source"].numpy().tolist() == SOURCE.tolist()


def test_loss_and_accuracy_count_real_target_tokens_only():
    model = build_model("seq2seq_rnn", Seq2SeqRnnParams(units=8, embedding_dim=4, attention="bahdanau",
                                                        attention_units=4), SPEC)
    compile_model(model, SPEC, train_params())
    _, val = pair_datasets({"train": (SOURCE, TARGET), "val": (SOURCE, TARGET)}, 3, 0)
    scores = model.evaluate(val, verbose=0, return_dict=True)
    probs = model.predict({"source": SOURCE, "target_in": TARGET[:, :-1]}, verbose=0).astype(np.float64)
    out = TARGET[:, 1:]
    real = out != 0
    p = np.take_along_axis(probs, out[..., None], -1)[..., 0]
    assert real.sum() == 9                       # 12 decoder positions, 3 of them padding
    # the mean cross-entropy and accuracy over the 9 real positions: padding is never scored
    assert abs(scores["loss"] + np.log(p[real]).mean()) < 1e-5
    assert abs(scores["accuracy"] - (probs.argmax(-1) == out)[real].mean()) < 1e-6


def test_fit_model_trains_a_pair_model_and_reports_teacher_forced_scores():
    arrays = {"train": (SOURCE, TARGET), "val": (SOURCE, TARGET), "test": (SOURCE[:2], TARGET[:2])}
    result = fit_model("seq2seq_rnn", Seq2SeqRnnParams(units=8, embedding_dim=4, attention="none"),
                       train_params(), SPEC, arrays, seed=3)
    assert list(result.history["epoch"]) == [0, 1] and result.predictions == {}
    assert set(result.metrics) == {"val", "test"} and set(result.metrics["test"]) == {"loss", "accuracy"}
    again = fit_model("seq2seq_rnn", Seq2SeqRnnParams(units=8, embedding_dim=4, attention="none"),
                      train_params(), SPEC, arrays, seed=3)
    assert again.metrics == result.metrics                                      # same seed, same scores
