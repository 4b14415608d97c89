"""Prediction timestamps as UTC moments: one parse rule for step 6's window filter, its joined rows and its time view.

Domino's capture client writes ``datetime.now(timezone.utc).isoformat()`` (domino_data_capture's
``data_capture_client.py``), ISO 8601 with a ``+00:00`` offset. ``parse_timestamps`` reads ISO 8601 in one
vectorised pandas parse and anything else value by value (pandas' mixed parser); ``moments`` reads Arrow text with
Arrow's own ISO 8601 cast first (no Python string per value) and hands anything that cast refuses to
``parse_timestamps``, so both give the same moments.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

NAT = np.iinfo(np.int64).min  # numpy's NaT as int64 nanoseconds
UNITS = ("s", "ms", "us", "ns")


def parse_timestamps(values: pd.Series) -> pd.Series:
    """UTC moments; ISO 8601 (the form Domino writes) in one vectorised parse, anything else parsed value by value."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pd.to_datetime(values, utc=True)
    moments = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    retry = (moments.isna() & values.notna()).to_numpy()
    if retry.any():
        again = pd.to_datetime(values[retry], errors="coerce", utc=True, format="mixed")
        finer = max((moments.dt.unit, again.dt.unit), key=UNITS.index)  # pandas 3 infers a unit per parse
        moments = moments.dt.as_unit(finer)
        moments[retry] = again.dt.as_unit(finer)
    return moments


@functools.cache
def arrow_wraps_years() -> bool:
    """Whether this Arrow's ISO 8601 cast wraps a year past 2262 around instead of refusing it (Arrow 15 does; 25
    refuses, and the whole array then goes to pandas). Where it refuses, ``moments``' wrap check could never find a
    wrapped value, so it is skipped: it cost ~70% of the parse (issue 14)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        pc.cast(pa.array(["2608-07-22T23:34:33+00:00"]), pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def moments(values: Any) -> np.ndarray:
    """int64 nanoseconds since the epoch (``NAT`` where missing or unparseable) of an Arrow array or a pandas Series
    of timestamps, as ``parse_timestamps`` reads them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            try:
                cast = pc.cast(values, pa.timestamp("ns", tz="UTC"))
                if arrow_wraps_years():
                    # older Arrow (15) wraps a year past 2262 around silently: such a moment lands centuries from
                    # the year it is written with (a time-zone offset moves it one year at most), and is missing
                    written = pc.cast(pc.utf8_slice_codeunits(values, 0, 4), pa.int64())
                    wrapped = pc.greater(pc.abs(pc.subtract(written, pc.year(cast))), 1)
                    cast = pc.if_else(wrapped, pa.scalar(None, cast.type), cast)
                return cast.cast(pa.int64()).fill_null(NAT).to_numpy()
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass  # text the cast refuses (no offset, another form): pandas parses it
        values = values.to_pandas()
    parsed = parse_timestamps(pd.Series(values).reset_index(drop=True))
    # pandas 3 keeps moments past 2262 in a coarser unit; in nanoseconds they would wrap around, so they are missing
    # (pandas 2 coerces them to NaT when parsing)
    representable = (parsed >= pd.Timestamp.min.tz_localize("UTC")) & (parsed <= pd.Timestamp.max.tz_localize("UTC"))
    return parsed.where(representable).to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT")).view(np.int64)
