"""Sentiment model: shipped-model behaviour, training on a tiny fixture, and a dev-set floor."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.sentiment import CLASSES, Sentiment, SentimentModel, evaluate, train, train_from_files
from analysis.sentiment.bayes import load_snownlp_bayes, train_bayes
from analysis.sentiment.features import hash_char_ngrams, hash_tokens
from analysis.sentiment.training import read_jsonl
from analysis.sentiment.view import SentimentView
from tests.support.shared import shared_path

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "sentiment" / "tiny.jsonl"

CLEAR_CASES = [
    ("太开心了，终于拿到offer了！", "positive"),
    ("这家店服务太差了，再也不来了[怒]", "negative"),
    ("這家餐廳服務太差了，氣死我了", "negative"),
    ("謝謝大家的祝福，今天真的好幸福", "positive"),
    ("[泪][泪]", "negative"),
    ("[哈哈][哈哈][哈哈]", "positive"),
    ("恭喜恭喜！为你骄傲[鼓掌]", "positive"),
    ("快递丢了，客服还不理人，气死我了", "negative"),
    ("小米SU7今天正式发布，售价二十一万起", "neutral"),
    ("明天上午十点在三楼会议室召开季度总结会", "neutral"),
    ("//@张三:转发微博", "neutral"),
    ("被裁员了，房贷还没还完，好绝望", "negative"),
]


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return SentimentModel.load()


@pytest.mark.parametrize(("text", "expected"), CLEAR_CASES)
def test_clear_cases(model: SentimentModel, text: str, expected: str) -> None:
    assert model.predict(text).label == expected


def test_bare_meeting_notice_scores_near_neutral(model: SentimentModel) -> None:
    # On Weibo a bare "…开会" post is mostly a complaint (about two in three training rows that
    # mention 开会 are negative), so the label of this one is a toss-up; its score must not be.
    result = model.predict("今天下午三点开会")
    assert abs(result.score - 0.5) < 0.1
    assert result.label != "positive"


def test_score_follows_snownlp_convention(model: SentimentModel) -> None:
    positive, neutral, negative = model.predict_many(
        [
            "太开心了，终于拿到offer了！",
            "明天上午十点在三楼会议室召开季度总结会",
            "这家店服务太差了，再也不来了[怒]",
        ]
    )
    assert negative.score < 0.5 < positive.score
    assert negative.score < neutral.score < positive.score
    assert 0.3 < neutral.score < 0.7
    for result in (positive, neutral, negative):
        assert 0.0 <= result.score <= 1.0
        assert result.score == pytest.approx(
            result.probabilities["positive"] + 0.5 * result.probabilities["neutral"]
        )


def test_probabilities_sum_to_one_and_label_is_the_argmax(model: SentimentModel) -> None:
    for text, _ in CLEAR_CASES + [
        ("", "neutral"),
        ("   ", "neutral"),
        ("ok", "neutral"),
        ("坏\ud800掉的\x00字符", ""),
    ]:
        result = model.predict(text)
        assert isinstance(result, Sentiment)
        assert set(result.probabilities) == set(CLASSES)
        assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert result.label == max(result.probabilities, key=result.probabilities.__getitem__)


def test_predict_many_equals_predict(model: SentimentModel) -> None:
    texts = [text for text, _ in CLEAR_CASES] + [""]
    batch = model.predict_many(texts)
    for text, together in zip(texts, batch, strict=True):
        alone = model.predict(text)
        assert alone.label == together.label
        assert alone.score == pytest.approx(together.score, abs=1e-5)


def test_canonicalisation_folds_script_width_and_mentions(model: SentimentModel) -> None:
    simplified = model.predict("这家餐厅服务太差了，气死我了！@张三")
    assert model.predict("這家餐廳服務太差了，氣死我了！@李四").score == pytest.approx(
        simplified.score, abs=1e-6
    )
    assert model.predict("這家餐廳服務太差了,氣死我了!@王五").score == pytest.approx(
        simplified.score, abs=1e-6
    )
    assert model.predict_many([]) == []


def test_feature_hashes_are_stable() -> None:
    # The shipped model's buckets depend on these exact values: changing the hash breaks it silently.
    assert int(hash_tokens([["开心"]]).hashes[0]) == 2761972400996555120
    assert [int(value) for value in hash_char_ngrams(["好a"], (1, 2)).hashes] == [
        8852589480779166930,
        13562128263656326190,
        583697658902373215,
    ]


def test_caller_tokens_are_used_and_tolerated(model: SentimentModel) -> None:
    text = "蔚来ES8的续航太让人失望了[怒]"
    tokens = ["蔚来ES8", "的", "续航", "太", "让", "人", "失望", "了", "[怒]", " ", "@某人"]
    with_tokens = model.predict(text, tokens)
    assert with_tokens.label == "negative"
    assert model.predict_many([text], [tokens])[0].score == pytest.approx(with_tokens.score, abs=1e-5)
    assert model.predict(text, []).score != pytest.approx(with_tokens.score, abs=1e-6)
    with pytest.raises(ValueError, match="same length"):
        model.predict_many([text, text], [tokens])


def test_load_is_cached_and_inference_avoids_sklearn_and_snownlp_init() -> None:
    code = (
        "import sys; from analysis.sentiment import SentimentModel as M; m = M.load(); "
        "assert M.load() is m; m.predict('好开心'); "
        "bad = [n for n in ('sklearn', 'scipy', 'snownlp') if n in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_numpy_bayes_matches_snownlp_classify() -> None:
    documents = [["好", "开心", "好"], ["差", "生气"], ["开会", "下午"], ["开心", "下午"]]
    labels = ["positive", "negative", "neutral", "positive"]
    table = train_bayes(documents, labels, CLASSES, 2**16)
    reference = load_snownlp_bayes().Bayes()
    reference.train(list(zip(documents, labels, strict=True)))
    for tokens in (["开心", "生气"], ["没见过", "好"], ["好", "下午", "差"], ["开会"]):
        scores = table.scores_for([tokens])[0]
        probabilities = np.exp(scores - scores.max())
        probabilities /= probabilities.sum()
        label, probability = reference.classify(tokens)
        assert CLASSES[int(np.argmax(scores))] == label
        assert probabilities.max() == pytest.approx(probability, rel=1e-5)


def test_training_on_tiny_fixture(tmp_path: Path) -> None:
    report = train_from_files([TINY], TINY, tmp_path / "model", nb_lr=False, n_jobs=1, n_buckets=2**16)
    assert report.rows_used == {"negative": 20, "neutral": 20, "positive": 20}
    assert report.rows_skipped == {"surprise": 1, "unknown": 1, "<no text>": 1}
    assert "macro-F1" in report.format() and "skipped rows" in report.format()
    trained = SentimentModel.load(tmp_path / "model")
    rows = read_jsonl(TINY)
    metrics = evaluate(trained, rows)
    assert metrics["accuracy"] >= 0.9
    assert metrics["skipped"] == {"surprise": 1, "unknown": 1, "<no text>": 1}
    assert trained.predict("客服态度太差了，气死了").label == "negative"


def test_training_with_a_missing_class_and_with_one_class(tmp_path: Path) -> None:
    rows = [row for row in read_jsonl(TINY) if row["label"] in ("positive", "negative")]
    report = train(rows, None, output=tmp_path / "two", nb_lr=False, n_jobs=1, n_buckets=2**16)
    assert report.rows_used["neutral"] == 0 and report.dev is None
    two_class = SentimentModel.load(tmp_path / "two")
    result = two_class.predict("今天下午三点开会")
    assert result.probabilities["neutral"] == 0.0
    assert result.label in ("positive", "negative")
    with pytest.raises(ValueError, match="at least two"):
        train([row for row in rows if row["label"] == "positive"], None, output=tmp_path / "one")


@pytest.mark.shared
def test_shipped_model_on_smp2020_dev_sample(model: SentimentModel) -> None:
    rows = read_jsonl(shared_path("data", "sentiment", "smp2020_ewect_dev.jsonl"))
    sample = random.Random(2020).sample([row for row in rows if row["label"] in CLASSES], 600)
    metrics = evaluate(model, sample)
    assert metrics["rows"] == 600
    assert metrics["macro_f1"] >= 0.80, json.dumps(metrics["per_class"])


def test_dev_is_measured_not_tuned_and_the_view_is_recorded(tmp_path: Path) -> None:
    rows = read_jsonl(TINY)
    chosen = {"alpha": 0.2, "offsets": (0.0, -0.3, 0.1), "temperature": 1.5, "view": "own"}
    report = train(rows, rows, output=tmp_path / "m", n_jobs=1, n_buckets=2**16, **chosen)
    model = SentimentModel.load(tmp_path / "m")
    assert (model.meta["alpha"], model.meta["offsets"], model.meta["temperature"]) == (
        0.2,
        [0.0, -0.3, 0.1],
        1.5,
    )
    assert model.view is SentimentView.OWN and report.dev is not None and report.dev["rows"] == 60


def test_near_duplicates_never_straddle_folds() -> None:
    from analysis.sentiment.crossval import fold_of, near_duplicate_groups
    from analysis.simhash import simhash
    from analysis.tokenize import default_tokenizer

    tokenizer = default_tokenizer()
    base = "星河汽车刹车又出问题了，四儿子店不给说法，车主们集体维权要求召回"
    texts = [
        base,
        base + "！",
        "转发：" + base,
        "今天天气很好，我们去公园散步",
        "这家餐厅的菜太难吃了，再也不来了",
    ]
    groups = near_duplicate_groups([simhash(tokenizer.tokens(text)) for text in texts])
    assert groups[0] == groups[1] == groups[2] and len({groups[0], groups[3], groups[4]}) == 3
    folds = fold_of(np.concatenate([groups, np.arange(100, 130)]), 3)
    assert folds[0] == folds[1] == folds[2] and set(folds.tolist()) == {0, 1, 2}
