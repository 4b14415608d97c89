"""The names of step 6's checks: one enum, used by the chain, the preview, publishing and the tests.

The values are what users see in the summary and in ``monitoring_report.json``. A ``str`` enum compares and
hashes as its value, so ``results["api key"]`` and ``results[CheckName.API_KEY]`` are the same entry, and it
prints as its value (like Python 3.11's ``StrEnum``, written out for 3.10).
"""

from __future__ import annotations

from enum import Enum


class CheckName(str, Enum):
    CONFIG = "config"
    API_KEY = "api key"
    TRAINING_SET = "training set"
    ENDPOINT = "endpoint"
    CAPTURE_NAMES = "capture names"
    DMM_MODEL = "DMM model"
    DATA_SOURCE = "data source"
    PREDICTIONS = "predictions ingested"
    GROUND_TRUTH = "ground truth registered"
    JOIN_RATE = "join rate"

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
