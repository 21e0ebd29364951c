"""Each algorithm's inference wire format: what is sent to its endpoint, and how its answers are read.

Answers are written as the SageMaker documentation (and, for XGBoost, the container's serve.py) shows
them, not produced by the code under test.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from sagedrop import algorithms, codecs
from sagedrop.algorithms.base import Algorithm, InvokeRequest, PredictionInput, ServingContext
from sagedrop.algorithms.blazingtext import ALGORITHM as BT
from sagedrop.algorithms.image_classification import ALGORITHM as IC
from sagedrop.algorithms.linear_learner import ALGORITHM as LL
from sagedrop.algorithms.seq2seq import ALGORITHM as S2S
from sagedrop.algorithms.xgboost import ALGORITHM as XGB
from tests.support.runtime_moto import tiny_jpeg, tiny_png


def ctx(algorithm: Algorithm, hyperparameters: dict[str, str] | None = None, **kwargs: Any) -> ServingContext:
    """A serving context whose hyperparameters are typed as predict types them (from the job's strings)."""
    typed: dict[str, Any] = {}
    if hyperparameters:
        typed, _, problems = algorithm.resolve_hyperparameters(hyperparameters)
        assert not problems, problems
    options = kwargs.pop("options", {})
    resolved = algorithm.resolve_options(options, "$.configuration", typed)
    return ServingContext(hyperparameters=typed, options=resolved, **kwargs)


def rows(*instances: Any) -> PredictionInput:
    return PredictionInput(instances=list(instances))


def raw(body: bytes, content_type: str, **options: Any) -> PredictionInput:
    return PredictionInput(body=body, content_type=content_type, options=options, options_path="query string")


def request(count: int = 1) -> InvokeRequest:
    return InvokeRequest(b"", "text/csv", "application/json", count)


def decode(algorithm: Algorithm, answer: str | bytes, context: ServingContext, count: int = 1, ctype: str = "") -> Any:
    body = answer.encode() if isinstance(answer, str) else answer
    return algorithm.decode_response(body, ctype or "application/json", request(count), context)


# ------------------------------------------------------------------ every algorithm has a wire format


def test_every_registered_algorithm_speaks_the_prediction_api():
    for algorithm in algorithms.all_algorithms():
        assert type(algorithm).encode_request is not Algorithm.encode_request, algorithm
        assert type(algorithm).decode_response is not Algorithm.decode_response, algorithm


# ------------------------------------------------------------------ linear learner


def test_linear_learner_sends_csv_features_and_asks_for_json():
    context = ctx(LL, {"predictor_type": "binary_classifier", "feature_dim": "3"}, feature_dim=3)
    (sent,) = LL.encode_request(rows([1, 2.5, -3], {"features": [0, 0.001, 7]}), context)
    assert sent == InvokeRequest(b"1,2.5,-3\n0,0.001,7", "text/csv", "application/json", 2, 0)


def test_linear_learner_raw_csv_passes_through_checked():
    context = ctx(LL, {"predictor_type": "regressor", "feature_dim": "2"}, feature_dim=2)
    (sent,) = LL.encode_request(raw(b"1,2\r\n3,4\n", "text/csv"), context)
    assert (sent.body, sent.count) == (b"1,2\n3,4", 2)
    with pytest.raises(codecs.BadInput) as caught:
        LL.encode_request(raw(b"0,1,2\n", "text/csv"), context)
    assert "drop the label column" in str(caught.value)


def test_linear_learner_refuses_other_body_types():
    with pytest.raises(codecs.UnsupportedMediaType) as caught:
        LL.encode_request(raw(b"\x00", "application/x-recordio-protobuf"), ctx(LL))
    assert str(caught.value) == (
        'linear-learner models do not take application/x-recordio-protobuf: send application/json ({"instances": '
        "[...]}) or text/csv"
    )
    assert caught.value.http_status == 415


def test_linear_learner_documented_answers():
    labels = ("low", "medium", "high", "very high")
    multiclass = '{"predictions": [{"score": [0.1, 0.2, 0.4, 0.3], "predicted_label": 2}]}'
    assert decode(LL, multiclass, ctx(LL, labels=labels)) == [
        {"score": [0.1, 0.2, 0.4, 0.3], "predicted_label": 2, "label": "high"}
    ]
    binary = '{"predictions": [{"score": 0.4, "predicted_label": 0.0}, {"score": 0.9, "predicted_label": 1.0}]}'
    assert decode(LL, binary, ctx(LL), 2) == [
        {"score": 0.4, "predicted_label": 0},
        {"score": 0.9, "predicted_label": 1},
    ]
    assert decode(LL, '{"predictions": [{"score": 0.4}]}', ctx(LL)) == [{"score": 0.4}]


@pytest.mark.parametrize(
    "answer", ['{"predictions": [{"predicted_label": 1}]}', "[0.4]", '{"predictions": {"score": 1}}']
)
def test_linear_learner_other_answers_are_bad_gateway(answer):
    with pytest.raises(codecs.BadModelResponse):
        decode(LL, answer, ctx(LL))


# ------------------------------------------------------------------ xgboost


def test_xgboost_sends_csv_with_missing_values_and_asks_for_csv():
    (sent,) = XGB.encode_request(rows([1, None, 3.5], [0, 2, None]), ctx(XGB))
    assert sent == InvokeRequest(b"1,,3.5\n0,2,", "text/csv", "text/csv", 2, 0)


def test_xgboost_libsvm_body():
    (sent,) = XGB.encode_request(raw(b"1:0.5 4:2\n2:1\n", "text/libsvm"), ctx(XGB))
    assert sent == InvokeRequest(b"1:0.5 4:2\n2:1", "text/libsvm", "text/csv", 2, 0)


def test_xgboost_chunks_by_row_count_keep_the_first_index():
    context = ctx(XGB, max_rows=2)
    sent = XGB.encode_request(rows([1], [2], [3], [4], [5]), context)
    assert [(s.body, s.count, s.first) for s in sent] == [(b"1\n2", 2, 0), (b"3\n4", 2, 2), (b"5", 1, 4)]


def test_xgboost_softmax_answer_is_a_class_index_named_by_labels():
    context = ctx(XGB, {"objective": "multi:softmax", "num_class": "4", "num_round": "10"}, labels=("A", "B", "C", "D"))
    assert decode(XGB, "2.0", context, ctype="text/csv") == [{"predicted_label": 2, "label": "C"}]
    assert decode(XGB, "2.0,0.0", ctx(XGB, {"objective": "multi:softmax", "num_class": "4", "num_round": "1"}), 2) == [
        {"predicted_label": 2},
        {"predicted_label": 0},
    ]


def test_xgboost_softprob_lists_and_flat_answers():
    hp = {"objective": "multi:softprob", "num_class": "3", "num_round": "10"}
    expected = [{"score": [0.1, 0.2, 0.7], "predicted_label": 2}, {"score": [0.6, 0.3, 0.1], "predicted_label": 0}]
    assert decode(XGB, "[0.1, 0.2, 0.7],[0.6, 0.3, 0.1]", ctx(XGB, hp), 2, "text/csv") == expected
    assert decode(XGB, "0.1,0.2,0.7,0.6,0.3,0.1", ctx(XGB, hp), 2, "text/csv") == expected


@pytest.mark.parametrize(
    ("objective", "answer", "prediction"),
    [
        ("binary:logistic", "0.87", {"score": 0.87, "predicted_label": 1, "label": "yes"}),
        ("binary:logistic", "0.5", {"score": 0.5, "predicted_label": 0, "label": "no"}),
        ("binary:logitraw", "-1.2", {"score": -1.2, "predicted_label": 0, "label": "no"}),
        ("binary:hinge", "1.0", {"predicted_label": 1, "label": "yes"}),
        ("reg:squarederror", "231.5", {"score": 231.5}),
    ],
)
def test_xgboost_binary_and_regression(objective, answer, prediction):
    context = ctx(XGB, {"objective": objective, "num_round": "10"}, labels=("no", "yes"))
    assert decode(XGB, answer, context, ctype="text/csv") == [prediction]


def test_xgboost_json_answer():
    context = ctx(XGB, {"objective": "binary:logistic", "num_round": "10"})
    answer = '{"predictions": [{"score": 0.2}, {"score": 0.7}]}'
    assert decode(XGB, answer, context, 2) == [
        {"score": 0.2, "predicted_label": 0},
        {"score": 0.7, "predicted_label": 1},
    ]


# ------------------------------------------------------------------ blazingtext


def test_blazingtext_word2vec_sends_words_and_reads_vectors():
    context = ctx(BT, {"mode": "skipgram"})
    (sent,) = BT.encode_request(rows("awesome", "awful"), context)
    assert sent == InvokeRequest(b'{"instances":["awesome","awful"]}', "application/json", "application/json", 2, 0)
    answer = '[{"vector": [0.1, 0.2], "word": "awesome"}, {"vector": [0.3, 0.4], "word": "awful"}]'
    assert decode(BT, answer, context, 2) == [
        {"word": "awesome", "vector": [0.1, 0.2]},
        {"word": "awful", "vector": [0.3, 0.4]},
    ]


def test_blazingtext_word2vec_refuses_phrases_and_k():
    with pytest.raises(codecs.BadInput) as caught:
        BT.encode_request(rows("good", "not good", 3), ctx(BT, {"mode": "cbow"}))
    assert [str(p) for p in caught.value.problems] == [
        "$.instances[1]: 'not good' is several words; a Word2Vec model embeds one word per instance "
        "(send each word as its own instance)",
        "$.instances[2]: expected a word (a non-empty string), got 3",
    ]
    with pytest.raises(codecs.BadInput) as caught:
        ctx(BT, {"mode": "cbow"}, options={"k": 2})
    assert "k applies to text classification (mode supervised)" in str(caught.value)


def test_blazingtext_supervised_sends_sentences_with_k_and_reads_labels():
    context = ctx(BT, {"mode": "supervised"}, options={"k": "2"}, labels=("negative", "positive"))
    (sent,) = BT.encode_request(raw(b"the movie was great\nboring .\n", "text/plain"), context)
    assert json.loads(sent.body) == {"instances": ["the movie was great", "boring ."], "configuration": {"k": 2}}
    answer = (
        '[{"label": ["__label__1", "__label__0"], "prob": [0.9, 0.1]}, '
        '{"label": ["__label__0", "__label__1"], "prob": [0.8, 0.2]}]'
    )
    first, second = decode(BT, answer, context, 2)
    assert first == {
        "predicted_label": 1,
        "label": "positive",
        "probability": 0.9,
        "top": [
            {"predicted_label": 1, "label": "positive", "probability": 0.9},
            {"predicted_label": 0, "label": "negative", "probability": 0.1},
        ],
    }
    assert second["label"] == "negative"


def test_blazingtext_word_labels_keep_their_names():
    answer = '[{"label": ["__label__sports"], "prob": [0.7]}]'
    assert decode(BT, answer, ctx(BT, {"mode": "supervised"})) == [
        {"predicted_label": "sports", "label": "sports", "probability": 0.7}
    ]


def test_blazingtext_chunks_json_by_bytes():
    context = ctx(BT, {"mode": "supervised"}, max_body_bytes=41)  # {"instances":[]} + 2 x 12 + 1
    sent = BT.encode_request(rows("a" * 10, "b" * 10, "c" * 10), context)
    assert [json.loads(s.body)["instances"] for s in sent] == [["a" * 10, "b" * 10], ["c" * 10]]
    assert [len(s.body) for s in sent] == [41, 28]


# ------------------------------------------------------------------ image classification


def test_image_body_is_sent_as_is_one_call():
    (sent,) = IC.encode_request(raw(tiny_png(), "image/png"), ctx(IC))
    assert sent == InvokeRequest(tiny_png(), "image/png", "application/json", 1, 0)
    (sent,) = IC.encode_request(raw(tiny_jpeg(), "application/x-image"), ctx(IC))
    assert sent.content_type == "image/jpeg"


def test_json_base64_images_one_call_per_image():
    images = [tiny_png(shade=1), tiny_jpeg()]
    sent = IC.encode_request(rows(*[base64.b64encode(i).decode() for i in images]), ctx(IC))
    assert [(s.body, s.content_type, s.first) for s in sent] == [
        (images[0], "image/png", 0),
        (images[1], "image/jpeg", 1),
    ]


def test_an_image_over_the_endpoint_limit_is_413():
    big = tiny_png() + b"\x00" * 5_000_000
    with pytest.raises(codecs.PayloadTooLarge) as caught:
        IC.encode_request(raw(big, "image/png"), ctx(IC, max_body_bytes=4_000_000))
    assert "over the 4,000,000 bytes (4 MB) limit of one InvokeEndpoint request" in str(caught.value)


def test_image_answer_is_top_k_with_probabilities():
    probabilities = [0.01, 0.7, 0.04, 0.2, 0.05]
    context = ctx(IC, options={"top_k": 2}, labels=("ant", "bee", "cat", "dog", "eel"))
    assert decode(IC, json.dumps(probabilities), context) == [
        {
            "predicted_label": 1,
            "label": "bee",
            "probability": 0.7,
            "top": [
                {"predicted_label": 1, "probability": 0.7, "label": "bee"},
                {"predicted_label": 3, "probability": 0.2, "label": "dog"},
            ],
            "probabilities": probabilities,
        }
    ]
    # default top 5 (fewer when there are fewer classes), no labels
    (prediction,) = decode(IC, "[[0.3, 0.7]]", ctx(IC))
    assert [t["predicted_label"] for t in prediction["top"]] == [1, 0]
    assert "label" not in prediction


def test_image_options_are_checked():
    with pytest.raises(codecs.BadInput) as caught:
        ctx(IC, options={"top_k": 0})
    assert "$.configuration.top_k: expected an integer >= 1, got 0" in str(caught.value)
    with pytest.raises(codecs.BadInput) as caught:
        ctx(IC, options={"topk": 3})
    assert "did you mean 'top_k'?" in str(caught.value)


# ------------------------------------------------------------------ seq2seq


def test_seq2seq_sends_data_objects_and_reads_targets():
    (sent,) = S2S.encode_request(rows("i am here", {"data": "good morning"}), ctx(S2S))
    assert sent == InvokeRequest(
        b'{"instances":[{"data":"i am here"},{"data":"good morning"}]}', "application/json", "application/json", 2, 0
    )
    answer = '{"predictions": [{"target": "ich bin hier"}, {"target": "guten morgen"}]}'
    assert decode(S2S, answer, ctx(S2S), 2) == [{"target": "ich bin hier"}, {"target": "guten morgen"}]


def test_seq2seq_refuses_non_strings_and_options():
    with pytest.raises(codecs.BadInput) as caught:
        S2S.encode_request(rows("ok", {"data": ""}, 5), ctx(S2S))
    assert [p.path for p in caught.value.problems] == ["$.instances[1].data", "$.instances[2]"]
    with pytest.raises(codecs.BadInput) as caught:
        ctx(S2S, options={"beam": 3})
    assert "has no inference option 'beam'" in str(caught.value)
    with pytest.raises(codecs.BadInput) as caught:
        S2S.encode_request(rows({"data": "hi", "configuration": {"attention_matrix": "true"}}), ctx(S2S))
    assert caught.value.problems[0].path == "$.instances[0].configuration"
    assert '"configuration": {"attention_matrix": true}' in caught.value.problems[0].hint


def test_seq2seq_attention_matrix_is_asked_for_every_instance_and_returned():
    """docs seq-2-seq.html "Inference" and the en-de example notebook (aws/amazon-sagemaker-examples
    at 53e81a12): an instance with {"configuration": {"attention_matrix": "true"}} is answered with "matrix"."""
    (sent,) = S2S.encode_request(rows("i am", "hi"), ctx(S2S, options={"attention_matrix": True}))
    assert json.loads(sent.body) == {
        "instances": [
            {"data": "i am", "configuration": {"attention_matrix": "true"}},
            {"data": "hi", "configuration": {"attention_matrix": "true"}},
        ]
    }
    answer = '{"predictions": [{"target": "ich bin", "matrix": [[0.9, 0.1]]}, {"target": "hallo", "matrix": [[1.0]]}]}'
    assert decode(S2S, answer, ctx(S2S), 2)[0]["matrix"] == [[0.9, 0.1]]


def test_empty_instances_are_refused_for_every_algorithm():
    for algorithm in algorithms.all_algorithms():
        with pytest.raises(codecs.BadInput) as caught:
            algorithm.encode_request(PredictionInput(instances=[]), ctx(algorithm))
        assert caught.value.problems[0].path == "$.instances"
