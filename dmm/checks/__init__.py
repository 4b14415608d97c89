"""Checks, for step 3's wizard and step 6's chain, split by concern.

- ``result``: ``CheckResult`` (PASS/WARN/FAIL/SKIP, detail, fix, facts, exit code), the one result type of both steps;
- ``names``: ``CheckName``, the names of step 6's checks;
- ``window``: step 6's window of predictions (standard library only);
- ``context``: ``CheckContext``, what the checks learn, memoised, reaching Domino through ``dmm.services``;
- ``registry`` and ``chain``: the registered chain of checks and ``run_checks``;
- ``probes``: the endpoint probe and the data-source lookup that step 3 and step 6 share;
- ``ground_truth``: the labels and how well they join to the captured predictions.

This package's ``__init__`` imports only the light modules, so a script can report a usage error before pandas,
pyarrow or the analysis engine load; import the others from their modules.
"""

from dmm.checks.names import CheckName
from dmm.checks.result import FAIL, PASS, SKIP, WARN, CheckResult, Status

__all__ = ["FAIL", "PASS", "SKIP", "WARN", "CheckName", "CheckResult", "Status"]
