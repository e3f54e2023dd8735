"""The optional scorers: Loughran-McDonald on a hand-made dictionary in the master file's format
(hand-computed tone, the negation rule, the labelled headlines' signs), and an ONNX text classifier
built here with onnx.helper over the documented hashed bag of words (ONNX Runtime against numpy);
both listed as not configured, with the reason, until their file is set."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from neural_trader.errors import NtUserError
from neural_trader.host import Host
from neural_trader_plugins.news.loughran_mcdonald import LoughranMcDonaldScorer, read_dictionary
from neural_trader_plugins.news.onnx_classifier import OnnxTextClassifier, bag_of_words, bucket

from .test_sentiment import BEAR, BULL, HEADLINES, NEUTRAL

#: The master dictionary's header (2023 release) and a few words: a category column holds the year the
#: word joined it, 0 if never, minus the year it left.
HEADER = ("Word,Seq_num,Word Count,Word Proportion,Average Proportion,Std Dev,Doc Count,Negative,Positive,"
          "Uncertainty,Litigious,Strong_Modal,Weak_Modal,Constraining,Complexity,Syllables,Source")
WORDS = {"GAIN": (0, 2009), "GAINS": (0, 2009), "IMPROVED": (0, 2009), "IMPROVES": (0, 2009), "STRONG": (0, 2009),
         "LOSS": (2009, 0), "DECLINE": (2009, 0), "BAD": (2009, 0), "FAILS": (2009, 0), "WEAKENS": (2009, 0),
         "BANKRUPTCY": (2009, 0), "LAWSUIT": (2009, 0), "ABLE": (0, -2020), "LIABILITY": (0, 0)}


@pytest.fixture
def dictionary(tmp_path: Path) -> Path:
    rows = [HEADER] + [f"{w},{k},100,1e-05,1e-05,1e-04,50,{neg},{pos},0,0,0,0,0,0,2,12of12inf"
                       for k, (w, (neg, pos)) in enumerate(WORDS.items(), 1)]
    path = tmp_path / "Loughran-McDonald_MasterDictionary_1993-2023.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def lm(path: Path) -> LoughranMcDonaldScorer:
    return LoughranMcDonaldScorer(environ={"NT_LM_DICTIONARY": str(path)})


def test_the_dictionary_reads_positive_years_as_members(dictionary: Path) -> None:
    positive, negative = read_dictionary(dictionary)
    assert positive == {"GAIN", "GAINS", "IMPROVED", "IMPROVES", "STRONG"}  # ABLE left the list in 2020
    assert "LOSS" in negative and "LIABILITY" not in negative | positive


@pytest.mark.parametrize(("text", "p", "n", "t", "tone"), [
    ("Quarterly gain and improved margins despite a loss", 2, 1, 8, 1 / 3),
    ("Not a gain: decline in sales", 0, 2, 6, -1.0),  # "not" two words before "gain": a negated gain
    ("No change in the reported gain", 1, 0, 6, 1.0),  # "no" is four words before: not a negation
    ("The company was able to reduce liability", 0, 0, 7, 0.0),
])
def test_lm_tone_by_hand(dictionary: Path, text: str, p: int, n: int, t: int, tone: float) -> None:
    scorer = lm(dictionary)
    assert scorer.counts(text) == (p, n, t)
    got = scorer.score(text)
    assert got.compound == pytest.approx(tone)
    assert (got.positive, got.negative, got.neutral) == pytest.approx((p / t, n / t, 1 - (p + n) / t))


LM_ROWS = [h for h in HEADLINES if h[0] in {
    "Intel misses estimates as PC demand weakens", "Pfizer shares tumble after drug trial fails",
    "Lender posts record loss on bad loans", "AMD gains after strong data centre sales",
    "Gross margin improves as costs fall", "Company schedules earnings call for Thursday",
    "Retailer files for Chapter 11 bankruptcy protection", "Shareholders file class action lawsuit against Meta"}]


def test_lm_gets_the_labelled_headlines_signs(dictionary: Path) -> None:
    assert len(LM_ROWS) == 8 and {s for _, s, _ in LM_ROWS} == {BULL, NEUTRAL, BEAR}
    scorer = lm(dictionary)
    for headline, sign, _ in LM_ROWS:
        compound = scorer.score(headline).compound
        assert (NEUTRAL if compound == 0 else BULL if compound > 0 else BEAR) == sign, headline


def test_lm_without_its_file_is_listed_as_not_configured(nt_host: Host, dictionary: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NT_LM_DICTIONARY", raising=False)
    models = {m["name"]: m for m in nt_host.call("news.sources", {})["models"]}
    assert models["vader_finance"]["configured"] and not models["loughran_mcdonald"]["configured"]
    assert "NT_LM_DICTIONARY" in models["loughran_mcdonald"]["reason"]
    assert "NT_SENTIMENT_ONNX_MODEL" in models["onnx_classifier"]["reason"]
    with pytest.raises(NtUserError, match="NT_LM_DICTIONARY"):
        nt_host.call("news.sentiment", {"texts": ["a gain"], "model": "loughran_mcdonald"})
    monkeypatch.setenv("NT_LM_DICTIONARY", str(dictionary))
    got = nt_host.call("news.sentiment", {"texts": ["Quarterly gain", "Loss widens"], "model": "loughran_mcdonald"})
    assert [s["score"] for s in got["scores"]] == [1.0, -1.0] and got["mean"] == 0.0
    bad = dictionary.with_name("bad.csv")
    bad.write_text("Term,Score\nGAIN,1\n")
    monkeypatch.setenv("NT_LM_DICTIONARY", str(bad))
    with pytest.raises(NtUserError, match="no word, positive, negative column"):
        nt_host.call("news.sentiment", {"texts": ["a gain"], "model": "loughran_mcdonald"})


# -- ONNX ---------------------------------------------------------------------------------------------
D = 32


def three_class_model(path: Path, weights: np.ndarray, bias: np.ndarray) -> Path:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["bow", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["logits"])],
        "bow_logreg", [helper.make_tensor_value_info("bow", TensorProto.FLOAT, ["N", D])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        initializer=[numpy_helper.from_array(weights.astype(np.float32), "W"),
                     numpy_helper.from_array(bias.astype(np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def one_score_model(path: Path, weights: np.ndarray) -> Path:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["bow", "w"], ["z"]), helper.make_node("Tanh", ["z"], ["score"])],
        "bow_tanh", [helper.make_tensor_value_info("bow", TensorProto.FLOAT, [1, D])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [1, 1])],
        initializer=[numpy_helper.from_array(weights.astype(np.float32).reshape(D, 1), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, path)
    return path


def test_the_bag_of_words_is_the_documented_hash() -> None:
    assert bucket("beats", 97) == int.from_bytes(hashlib.blake2b(b"beats", digest_size=8).digest(), "little") % 97
    row = bag_of_words("Beats! beats, misses", D)
    assert row.shape == (1, D) and row.dtype == np.float32 and row.sum() == 3
    assert row[0, bucket("beats", D)] == 2 + (bucket("misses", D) == bucket("beats", D))


def test_a_three_class_model_scores_p_bullish_minus_p_bearish(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    weights, bias = rng.normal(size=(D, 3)), rng.normal(size=3)
    scorer = OnnxTextClassifier(environ={"NT_SENTIMENT_ONNX_MODEL": str(three_class_model(
        tmp_path / "m.onnx", weights, bias))})
    for text in ("Apple beats estimates", "Tesla misses deliveries, shares fall", "Earnings call on Thursday"):
        logits = (bag_of_words(text, D).astype(np.float64) @ weights + bias)[0]
        p = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        got = scorer.score(text)
        assert got.compound == pytest.approx(p[2] - p[0], abs=1e-6)
        assert (got.negative, got.neutral, got.positive) == pytest.approx(tuple(p), abs=1e-6)


def test_a_one_score_model_and_the_ops(nt_host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = np.zeros(D)
    weights[bucket("beats", D)], weights[bucket("misses", D)] = 1.5, -2.0
    monkeypatch.setenv("NT_SENTIMENT_ONNX_MODEL", str(one_score_model(tmp_path / "one.onnx", weights)))
    got = nt_host.call("news.sentiment", {"texts": ["ACME beats", "ACME misses"], "model": "onnx_classifier"})
    expected = [np.tanh(bag_of_words(t, D).astype(np.float64) @ weights)[0] for t in ("ACME beats", "ACME misses")]
    assert [s["score"] for s in got["scores"]] == pytest.approx(expected, abs=1e-6)
    assert got["scores"][0]["score"] > 0 > got["scores"][1]["score"]
    models = {m["name"]: m for m in nt_host.call("news.sources", {})["models"]}
    assert models["onnx_classifier"]["configured"]


def test_a_model_without_a_fixed_input_size_is_refused(tmp_path: Path) -> None:
    graph = helper.make_graph([helper.make_node("Identity", ["bow"], ["out"])], "dyn",
                              [helper.make_tensor_value_info("bow", TensorProto.FLOAT, ["N", "D"])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", "D"])])
    path = tmp_path / "dyn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    with pytest.raises(NtUserError, match="fixed-size last axis"):
        OnnxTextClassifier(environ={"NT_SENTIMENT_ONNX_MODEL": str(path)}).score("text")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(NtUserError, match="not a model"):
        OnnxTextClassifier(environ={"NT_SENTIMENT_ONNX_MODEL": str(tmp_path / "junk.onnx")}).score("text")
