"""Reading step 6's window with PySpark (``dmm.analysis.spark_engine``'s first half): the listed files as one
DataFrame with each row's file, row index, whether it is inside the window, its normalised event id and whether it
is one of the toolkit's probe rows, exactly as the local engine decides each: the file index, the probe flag and
the id key are native Spark expressions that restate the local rules (``keys.class_key``, ``probe_row_mask``;
tests/test_spark_engine.py checks them against those functions on awkward values), ids the plain rule does not
cover are keyed by ``normalise_ids`` itself on the driver, and only the files filtered by row (the window's edge
hours) go through ``parse_timestamps`` in a pandas UDF. No Python round trip for the other rows.

Imported only with ``spark_engine``; nothing else imports PySpark.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from dmm.analysis.keys import WHOLE_LIMIT
from dmm.analysis.moments import parse_timestamps
from dmm.checks.ground_truth import ID_COLUMN
from dmm.checks.scan_files import TIMESTAMP_COLUMNS
from dmm.checks.scan_files import inside as hour_inside

FILE, ROW, KEY, INSIDE, PROBE = "_dmm_file", "_dmm_row", "_dmm_key", "_dmm_inside", "_dmm_probe"


def _local_path(uri: str) -> str:
    parsed = urlparse(uri)
    return os.path.realpath(unquote(parsed.path) if parsed.scheme in ("file", "") else uri)


def _file_schemas(paths: list[Path]) -> tuple[list[list[str]], Any, list[str]]:
    """Each file's column names (footers only), and one Spark schema for all: a column that is integer in one file
    and floating-point in another (JSON capture writes 1 for 1.0) is read as double, as pandas reads it locally; a
    timestamp with a zone in one file and another zone or unit in the next stays a timestamp (as text, an instant
    would become the session zone's wall time without its zone); other mixes are read as text."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType, TimestampNTZType, TimestampType

    schemas = [pq.read_schema(path) for path in paths]
    types: dict[str, list[Any]] = {}
    for schema in schemas:
        for arrow_field in schema:
            types.setdefault(arrow_field.name, []).append(arrow_field.type)
    fields = []
    for name, seen in types.items():
        numeric = all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in seen)
        moments = {t.tz is not None for t in seen} if all(pa.types.is_timestamp(t) for t in seen) else set()
        if numeric and len(set(seen)) > 1:
            fields.append(StructField(name, DoubleType()))
        elif len(set(seen)) > 1 and moments == {True}:  # instants in different zones or units (as text: wall times)
            fields.append(StructField(name, TimestampType()))
        elif len(set(seen)) > 1 and moments == {False}:
            fields.append(StructField(name, TimestampNTZType()))
        elif len(set(seen)) > 1:  # e.g. ids written as text in one file and as numbers in another
            fields.append(StructField(name, StringType()))
        else:
            fields.append(StructField(name, from_arrow_type(seen[0])))
    return [list(schema.names) for schema in schemas], StructType(fields), [str(schema) for schema in schemas]


def moment_micros(column: Any, kind: Any) -> Any:
    """A zoned timestamp (Spark's ``TimestampType``) as microseconds since the epoch, else ``column``: pandas gets
    such a column as the session zone's wall time without the zone, which a non-UTC zone's repeated autumn hour
    makes ambiguous (two instants, one wall time); ``from_micros`` turns it back into UTC moments."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    return F.unix_micros(column) if isinstance(kind, TimestampType) else column


def from_micros(values: pd.Series) -> pd.Series:
    """UTC moments of ``moment_micros``' numbers (NaN or None where missing)."""
    return pd.to_datetime(pd.to_numeric(values), unit="us", utc=True)


def as_shared(column: Any, own: Any, shared: Any) -> Any:
    """One file's column in the files' shared type (``_file_schemas``); a zoned timestamp shared as text is written
    with its offset (Spark's cast writes the session zone's wall time without it, which reads back as UTC)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, TimestampType

    if isinstance(own, TimestampType) and isinstance(shared, StringType):
        return F.date_format(column, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
    return column.cast(shared)


def file_choices(files: list[Any], files_columns: list[list[str]], start: datetime, end: datetime) -> np.ndarray:
    """Per file: -2 taken whole (its hour inside the window, ``scan_files.inside``), -1 no timestamp column (taken
    whole, as locally), else the index in ``TIMESTAMP_COLUMNS`` of the column its rows are filtered by."""
    return np.asarray([-2 if hour_inside(item, start, end) else
                       next((i for i, c in enumerate(TIMESTAMP_COLUMNS) if c in names), -1)
                       for item, names in zip(files, files_columns, strict=True)], dtype=np.int32)


def cast_shared(values: Any, kind: Any) -> Any:
    """A file's quality column in the type shared across files. Numbers written as text where another file holds
    text are spelled as the local engine's joined frame shows them (``str`` of the pandas value: 45.0 -> "45.0",
    where Arrow's cast writes "45")."""
    import pyarrow as pa

    if values.type == kind:
        return values
    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    if pa.types.is_string(kind) and not any(is_text(values.type) for is_text in text):  # large_string: cast
        return pa.array([None if pd.isna(v) else str(v) for v in values.to_pandas().tolist()], kind)
    return values.cast(kind)


def lacking(files_columns: list[list[str]], name: str) -> list[int]:
    """Indices of the files that do not hold ``name`` (the local engine feeds a consumer only the files that do)."""
    return [i for i, names in enumerate(files_columns) if name not in names]


def add_rows(drift: Any, columns: Any, files_columns: list[list[str]], names: list[str],
             rows_per_file: dict[int, int]) -> None:
    """The drift calculator's row counts from the window's rows per file, as the local engine feeds it: a file is
    fed when it holds one of the counted columns (``names``), and a column counts the rows of the files holding it."""
    missing = {name: set(lacking(files_columns, name)) for name in columns}
    drifting = {f for f in range(len(files_columns)) if any(f not in missing[name] for name in names)}
    drift.rows_seen += sum(n for file, n in rows_per_file.items() if file in drifting)
    for name in columns:
        drift.rows_with_column[name] += sum(n for file, n in rows_per_file.items() if file not in missing[name])


def read_window(spark: Any, ctx: Any, wanted: list[str], start: datetime, end: datetime, *, keys: bool = True
                ) -> tuple[Any, list[list[str]], list[int]]:
    """The listed files as one DataFrame: wanted columns, file and row index, whether the row is in the window,
    whether it is a probe row (``PROBE``), and (``keys``) its normalised id (``KEY``); each file's column names;
    the files filtered row by row (an edge hour, or outside the hourly layout, with a timestamp column: the local
    engine counts every row of those for the join-rate check).

    Files are read in groups of one layout (the same columns and types) and one kind (taken whole, or filtered by
    row). Each group gets its own ``PROBE`` and ``KEY`` from its own id column type before the groups are put
    together, as the local engine keys each file's chunks by their own type: ids that are text in one file and
    numbers in another are not cast to the first file's type (which gave nulls), and the id column of the union is
    text whenever the files disagree on a type that is not numeric. Only the filtered groups run the timestamp UDF;
    the file index, probe flags and most ids are native expressions (no Python round trip)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, TimestampType

    files = list(ctx.prediction_files)
    files_columns, schema, layouts = _file_schemas([item.path for item in files])
    choice_of = file_choices(files, files_columns, start, end)
    choices = choice_of.tolist()
    groups: dict[tuple[str, bool], list[int]] = {}
    for i, layout in enumerate(layouts):
        groups.setdefault((layout, choices[i] >= 0), []).append(i)
    names_all = [field.name for field in schema.fields]
    present = [c for c in dict.fromkeys(wanted) if c in names_all]
    times = [c for c in TIMESTAMP_COLUMNS if c in names_all]
    bounds = (pd.Timestamp(start), pd.Timestamp(end))

    def in_window(micros: frozenset[str]) -> Any:
        """The window test of a group whose ``micros`` columns are zoned timestamps (``moment_micros``); the
        others (naive timestamps, as UTC, text or numbers) are parsed as the local engine parses them."""

        def inside(file: pd.Series, *moments: pd.Series) -> pd.Series:
            choice = pd.Series(choice_of[file.to_numpy()])
            result = choice.to_numpy() < 0
            for i, column in enumerate(TIMESTAMP_COLUMNS):
                if column not in times:
                    continue
                rows = (choice == i).to_numpy()
                if rows.any():
                    values = moments[times.index(column)][rows]
                    parsed = from_micros(values) if column in micros else parse_timestamps(values)
                    result[rows] = (parsed.notna() & (parsed >= bounds[0]) & (parsed < bounds[1])).to_numpy()
            return pd.Series(result)

        return F.pandas_udf(inside, BooleanType())  # type: ignore[call-overload]

    frame = None
    for (_, filtered), members in groups.items():
        names = files_columns[members[0]]
        part = spark.read.parquet(*[str(files[i].path) for i in members])
        part = part.withColumn(FILE, _file_index(part, {os.path.realpath(files[i].path): i for i in members}))
        part = part.withColumn(ROW, F.col("_metadata.row_index"))
        own = {field.name: field.dataType for field in part.schema.fields}
        if filtered:
            zoned = frozenset(c for c in times if c in names and isinstance(own[c], TimestampType))
            part = part.withColumn(INSIDE, in_window(zoned)(F.col(FILE), *[
                moment_micros(F.col(f"`{c}`"), own[c]) if c in names else F.lit(None).cast("long") for c in times]))
        else:
            part = part.withColumn(INSIDE, F.lit(True))
        part = part.withColumn(PROBE, probe_flags(F.col(f"`{ID_COLUMN}`"), own[ID_COLUMN])
                               if ID_COLUMN in names else F.lit(False))
        if keys and ID_COLUMN in names:
            part = with_keys(spark, part, own[ID_COLUMN])
        kept = [as_shared(F.col(f"`{c}`"), own[c], schema[c].dataType).alias(c) for c in present if c in names]
        part = part.select(*kept, FILE, ROW, INSIDE, PROBE, *([KEY] if KEY in part.columns else []))
        frame = part if frame is None else frame.unionByName(part, allowMissingColumns=True)
    return frame, files_columns, [i for i, choice in enumerate(choices) if choice >= 0]


def _file_index(part: Any, index_of: dict[str, int]) -> Any:
    """The row's file as its position in ctx.prediction_files: a native map from the paths Spark lists for the read
    (``inputFiles``, a driver call) to positions; a row of a file not in the map stops the job (never guess: it
    would land in another file's window). Spark writes the same file as ``file:///p`` in ``inputFiles`` and
    ``file:/p`` in ``_metadata.file_path``: both spellings are keys."""
    from pyspark.sql import functions as F

    pairs: list[Any] = []
    for uri in part.inputFiles():
        found = index_of.get(_local_path(uri))
        if found is None:
            raise ValueError(f"Spark lists {uri}, which is not one of the listed files")
        for spelling in dict.fromkeys([uri, uri.replace("file:///", "file:/", 1)]):
            pairs += [F.lit(spelling), F.lit(found)]
    path = F.col("_metadata.file_path")
    return F.coalesce(F.create_map(*pairs)[path],
                      F.raise_error(F.concat(F.lit("Spark read a file that is not listed: "), path))).cast("int")


def _whitespace_class() -> str:
    """A Java regex class of the characters Python's ``str.strip`` removes (``str.isspace``); Arrow's
    ``utf8_ltrim_whitespace`` (``probe_row_mask``) follows the same definition, so native expressions trim as the
    local engine does."""
    return "[" + "".join(f"\\x{{{code:x}}}" for code in range(0x110000) if chr(code).isspace()) + "]"


SPACE = _whitespace_class()
# text the local key keeps as written: no surrounding whitespace and not a plain decimal (keys._DECIMAL)
AS_WRITTEN = rf"(?s)\A(?!{SPACE})(?!.*{SPACE}\z)(?![+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?\z).+\z"
SMALL_INTEGER = r"\A[+-]?(?:0|[1-9][0-9]{0,14})\z"  # below 2**53: its key is the integer's plain digits
EXACT = float(WHOLE_LIMIT)  # whole floats below it are exact integers, as the local key reads them


def probe_flags(ids: Any, kind: Any) -> Any:
    """Whether the id marks one of the toolkit's probes (``dmm.checks.probes.probe_row_mask``: text that starts
    with ``PROBE_EVENT_PREFIX`` after leading whitespace), as a native expression; False for a non-text id column
    (the probes' ids are text, so a numeric id column holds none, as locally)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    from dmm.checks.probes import PROBE_EVENT_PREFIX

    if not isinstance(kind, StringType):
        return F.lit(False)
    return F.coalesce(ids.rlike(rf"\A{SPACE}*\Q{PROBE_EVENT_PREFIX}\E"), F.lit(False))


def with_keys(spark: Any, part: Any, kind: Any) -> Any:
    """``KEY``: the normalised event id (``normalise_ids``' rule, ``keys.class_key``) of one group's id column.
    Native where the rule is plain: text kept as written, small integers (text or integer type) as their digits,
    whole floats below 2**53 as integers, booleans, missing and blank ids as null. The rest (text with surrounding
    whitespace or a decimal point, large or fractional numbers, other types) is keyed by ``normalise_ids`` itself
    on the driver, once per distinct value (one job reading the id column), and joined back by broadcast."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, DoubleType, FloatType, IntegralType, StringType

    from dmm.analysis.join import normalise_ids

    ids = F.col(f"`{ID_COLUMN}`")
    if isinstance(kind, StringType):
        blank = F.regexp_replace(ids, f"{SPACE}+", "") == ""
        small = ids.rlike(SMALL_INTEGER)
        digits = F.regexp_replace(F.regexp_replace(ids, r"\A\+", ""), r"\A-0\z", "0")
        native = F.when(ids.isNull() | blank, None).when(ids.rlike(AS_WRITTEN), ids).when(small, digits)
        hard = ids.isNotNull() & ~blank & ~ids.rlike(AS_WRITTEN) & ~small
    elif isinstance(kind, BooleanType):
        native, hard = F.when(ids, "True").when(~ids, "False"), F.lit(False)
    elif isinstance(kind, IntegralType):
        small = F.abs(ids.cast("double")) < EXACT
        native, hard = F.when(small, ids.cast("string")), ids.isNotNull() & ~small
    elif isinstance(kind, (DoubleType, FloatType)):
        x = ids.cast("double")
        whole = F.when(F.abs(x) < EXACT, x == F.floor(x)).otherwise(False)  # floor of a huge value overflows
        native, hard = F.when(whole, x.cast("long").cast("string")), ids.isNotNull() & ~F.isnan(x) & ~whole
    else:
        native, hard = F.lit(None).cast("string"), ids.isNotNull()
    part = part.withColumn(KEY, native.cast("string"))
    values = [row[0] for row in part.where(hard).select(ids).distinct().collect()]
    if not values:
        return part
    raw = pd.Series(values, dtype=object)
    lookup = spark.createDataFrame(pd.DataFrame({"_dmm_raw": raw, "_dmm_looked_up": normalise_ids(raw)}),
                                   schema=f"_dmm_raw {kind.simpleString()}, _dmm_looked_up string")
    joined = part.join(F.broadcast(lookup), ids.eqNullSafe(F.col("_dmm_raw")) & hard, "left")
    return joined.withColumn(KEY, F.coalesce(F.col(KEY), F.col("_dmm_looked_up"))).drop("_dmm_raw", "_dmm_looked_up")
