"""One list of URL credentials (``dmm.redact.SIGNED_URL_PARAMS``) serves redaction, the trace and the soak's leak
check: each finds and masks every parameter of it."""

from __future__ import annotations

import pytest

from dmm.redact import SIGNED_URL_PARAMS, redact
from dmm.trace import redact_text, redact_url
from example.soak import SIGNATURE


@pytest.mark.parametrize("name", SIGNED_URL_PARAMS)
def test_every_credential_parameter_is_masked_everywhere_and_caught_by_the_soak(name):
    url = f"https://store.example.com/bucket/gt.csv?X-Id=1&{name.upper()}=s3cr3tVALUE9&b=2"
    assert SIGNATURE.search(url), f"the soak misses an unmasked {name}"
    for masked in (redact(url), redact_text(f"PUT {url} failed"), redact_url(url)):
        assert "s3cr3tVALUE9" not in masked and not SIGNATURE.search(masked)
        assert "X-Id=1" in masked and "b=2" in masked  # only credentials are masked


def test_ordinary_query_parameters_are_left_alone():
    url = "https://domino.example.com/api/x?projectId=p1&offset=20&limit=10&name=churn"
    assert redact(url) == url and redact_url(url) == url and not SIGNATURE.search(url)
