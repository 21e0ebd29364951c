import math

from sagedrop.registry import from_item, to_attr, to_item


def test_round_trip_of_the_types_the_registry_stores():
    data = {
        "model": "churn",
        "count": 3,
        "score": 0.125,
        "ok": True,
        "none": None,
        "labels": ["a", "b"],
        "deploy": {"gate": {"metric": "validation:rmse", "max": 10.5}, "keep_alive": False},
    }
    assert from_item(to_item(data)) == data


def test_numbers_keep_their_kind():
    assert to_attr(2) == {"N": "2"}
    assert to_attr(2.0) == {"N": "2.0"}
    assert from_item({"x": {"N": "2.0"}}) == {"x": 2.0}
    assert isinstance(from_item({"x": {"N": "2"}})["x"], int)
    assert to_attr(math.inf) == {"S": "inf"}
