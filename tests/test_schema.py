"""dmm/schema.py: round trip through monitoring_schema.json, derived names, and unreadable files."""

from __future__ import annotations

import json

import pytest

from dmm.errors import UsageError
from dmm.schema import Feature, MonitoringSchema


def churn_schema(**changes) -> MonitoringSchema:
    values = dict(
        training_set_name="churn-baseline",
        training_set_version=3,
        model_type="classification",
        target="churned",
        features=(Feature("tenure", "numerical", "int64", 12),
                  Feature("plan", "categorical", "string", "gold"),
                  Feature("monthly_fee", "numerical", "float64", 49.5)),
        class_labels=("no", "yes"),
        key_columns=("customer_id",),
        timestamp_column="signup_ts",
        excluded_columns=("notes",),
    )
    values.update(changes)
    return MonitoringSchema(**values)


def test_dict_round_trip_is_lossless():
    schema = churn_schema()
    assert MonitoringSchema.from_dict(schema.to_dict()) == schema


def test_save_and_load_round_trip(tmp_path):
    schema = churn_schema()
    path = schema.save(tmp_path / "nested" / "monitoring_schema.json")
    assert path.is_file()
    assert not list(path.parent.glob("*.tmp"))
    loaded = MonitoringSchema.load(path)
    assert loaded == schema
    assert loaded.to_dict() == schema.to_dict()


def test_saved_file_uses_the_documented_layout(tmp_path):
    path = churn_schema().save(tmp_path / "monitoring_schema.json")
    data = json.loads(path.read_text())
    assert data["training_set"] == {"name": "churn-baseline", "version": 3}
    assert data["target"] == {"name": "churned", "value_type": "categorical", "class_labels": ["no", "yes"]}
    assert [f["name"] for f in data["features"]] == ["tenure", "plan", "monthly_fee"]


def test_feature_names_keep_their_order():
    assert churn_schema().feature_names == ["tenure", "plan", "monthly_fee"]


def test_prediction_is_named_after_the_target_and_ground_truth_gets_its_own_name():
    schema = churn_schema(target="price")
    assert schema.prediction_name == "price"
    assert schema.ground_truth_column == "price_gt"


@pytest.mark.parametrize("model_type, value_type", [("classification", "categorical"), ("regression", "numerical")])
def test_target_value_type_follows_the_model_type(model_type, value_type):
    schema = churn_schema(model_type=model_type)
    assert schema.target_value_type == value_type
    assert schema.to_dict()["target"]["value_type"] == value_type


def test_sample_row_uses_each_features_example():
    assert churn_schema().sample_row() == {"tenure": 12, "plan": "gold", "monthly_fee": 49.5}


def test_feature_lookup_by_name():
    schema = churn_schema()
    assert schema.feature("plan").value_type == "categorical"
    with pytest.raises(KeyError):
        schema.feature("missing")


def test_optional_fields_may_be_absent_from_the_file():
    data = churn_schema().to_dict()
    for key in ("key_columns", "timestamp_column", "excluded_columns"):
        del data[key]
    del data["target"]["class_labels"]
    schema = MonitoringSchema.from_dict(data)
    assert (schema.key_columns, schema.timestamp_column) == ((), None)
    assert (schema.excluded_columns, schema.class_labels) == ((), ())


# --- unreadable files ----------------------------------------------------------------------------------------

def test_missing_file_points_to_step_1(tmp_path):
    with pytest.raises(UsageError) as caught:
        MonitoringSchema.load(tmp_path / "monitoring_schema.json")
    assert "No monitoring schema" in caught.value.message
    assert "1_register_training_set.py" in caught.value.advice


def test_invalid_json_points_to_step_1(tmp_path):
    path = tmp_path / "monitoring_schema.json"
    path.write_text('{"training_set": ')
    with pytest.raises(UsageError) as caught:
        MonitoringSchema.load(path)
    assert "not valid JSON" in caught.value.message
    assert "1_register_training_set.py" in caught.value.advice


def without(data: dict, *keys: str) -> dict:
    data = json.loads(json.dumps(data))
    section = data
    for key in keys[:-1]:
        section = section[key]
    del section[keys[-1]]
    return data


@pytest.mark.parametrize("content", [
    without(churn_schema().to_dict(), "features"),
    without(churn_schema().to_dict(), "model_type"),
    without(churn_schema().to_dict(), "target", "name"),
    without(churn_schema().to_dict(), "training_set"),
    {**churn_schema().to_dict(), "features": [{"name": "x", "value_type": "numerical", "colour": "red"}]},
    [1, 2, 3],
    None,
])
def test_incomplete_or_malformed_schema_points_to_step_1(tmp_path, content):
    path = tmp_path / "monitoring_schema.json"
    path.write_text(json.dumps(content))
    with pytest.raises(UsageError) as caught:
        MonitoringSchema.load(path)
    assert "1_register_training_set.py" in caught.value.advice
