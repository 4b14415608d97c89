"""A registered MLflow model served as a Domino endpoint (Domino 6: deploy from the Model Registry).

What Domino's wrapper does, as its field notes describe it (github.com/dominodatalab/Fraud-Detection-Workshop,
monitoring_blueprints/DOMINO_PLATFORM_NOTES.md §2a/§2c; their templates/load_generator.py and
scripts/smoke_test_endpoint.py are the callers):

- the request envelope stays ``{"data": {...}}`` (one row: column -> value); Basic ``token:token`` auth (checked by
  the sandbox's ``/models/...`` route, as for file-based endpoints);
- the model is loaded with ``mlflow.pyfunc.load_model``; its logged signature is enforced ("booleans must be sent as
  ints (1/0), and numeric types must match ... 'Failed to enforce schema'"). The enforcement is MLflow's own:
  ``PyFuncModel.predict`` runs ``mlflow.models.utils._enforce_schema``, the same call the scoring server
  (``mlflow/pyfunc/scoring_server/__init__.py`` ``invocations``) makes. The frame is built from the JSON values
  as they are (``pandas.DataFrame.from_records``), not pre-cast to the signature's types the way the scoring server's
  ``dataframe_records`` parser does: that is the stricter reading, and the one the field notes report;
- the answer is the pyfunc's output in the ``result`` of Domino's envelope: "a list-of-rows ([[...]]), not a dict".
  Whether the rows are bare values or records (column -> value) is [uncertain]: the monitor option
  ``registry_rows_as_records`` (default False: bare values, which carry no column names) chooses.

A refusal by the signature (an ``MlflowException``) is answered 500 with MLflow's message, as Domino's harness
answers any exception raised while predicting (``sandbox.model_host``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

ROW_ERROR = 'A registered model endpoint takes {"data": {column: value, ...}} (one row) or {"data": [rows]}'


def load_registered(model_uri: str) -> Any:
    """The pyfunc model behind ``models:/<name>/<version>`` (``MLFLOW_TRACKING_URI`` names the registry)."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(model_uri)


def rows_of(output: Any, as_records: bool) -> list[Any]:
    """The pyfunc's output as a JSON list of rows (NaN as null): records or bare values."""
    import numpy as np
    import pandas as pd

    if isinstance(output, pd.Series):
        output = output.to_frame()
    if isinstance(output, pd.DataFrame):
        rows = json.loads(output.to_json(orient="records" if as_records else "values", date_format="iso"))
        return list(rows)
    if isinstance(output, np.ndarray):
        return list(json.loads(pd.Series(list(output)).to_json(orient="values")))
    if isinstance(output, (list, tuple)):
        return list(output)
    return [output]


def make_registry_predict(model: Any, as_records: bool) -> Callable[[Any], tuple[int, dict[str, Any]]]:
    """``respond(data) -> (status, fields of the answer)`` for the request's ``data``."""
    import pandas as pd

    def respond(data: Any) -> tuple[int, dict[str, Any]]:
        if isinstance(data, dict):
            records = [data]
        elif isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
            records = data
        else:
            return 400, {"error": ROW_ERROR}
        frame = pd.DataFrame.from_records(records)
        try:
            output = model.predict(frame)
        except Exception as error:  # noqa: BLE001 - MlflowException (signature) or the model's own failure
            message = getattr(error, "message", None) or str(error)
            return 500, {"error": f"{type(error).__name__}: {message}"}
        return 200, {"result": rows_of(output, as_records)}

    return respond
