"""Reading step 6's window with PySpark (``dmm.analysis.spark_engine``'s first half): the listed files as one
DataFrame with each row's file, row index, whether it is inside the window, its normalised event id and whether it
is one of the toolkit's probe rows. Each of these goes through the local engine's own function (``parse_timestamps``,
``normalise_ids``, ``probe_row_mask``) in a pandas UDF, so a row is in or out, matched or not, exactly as locally.

Imported only with ``spark_engine``; nothing else imports PySpark.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from dmm.checks.ground_truth import ID_COLUMN
from dmm.checks.scan import TIMESTAMP_COLUMNS, parse_timestamps

FILE, ROW, KEY, INSIDE, PATH, PROBE = "_dmm_file", "_dmm_row", "_dmm_key", "_dmm_inside", "_dmm_path", "_dmm_probe"


def _local_path(uri: str) -> str:
    parsed = urlparse(uri)
    return os.path.realpath(unquote(parsed.path) if parsed.scheme in ("file", "") else uri)


def _file_schemas(paths: list[Path]) -> tuple[list[list[str]], Any, list[str]]:
    """Each file's column names (footers only), and one Spark schema for all: a column that is integer in one file
    and floating-point in another (JSON capture writes 1 for 1.0) is read as double, as pandas reads it locally."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import DoubleType, StructField, StructType

    schemas = [pq.read_schema(path) for path in paths]
    types: dict[str, list[Any]] = {}
    for schema in schemas:
        for arrow_field in schema:
            types.setdefault(arrow_field.name, []).append(arrow_field.type)
    fields = []
    for name, seen in types.items():
        numeric = all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in seen)
        if numeric and len(set(seen)) > 1:
            fields.append(StructField(name, DoubleType()))
        else:
            fields.append(StructField(name, from_arrow_type(seen[0])))
    return [list(schema.names) for schema in schemas], StructType(fields), [str(schema) for schema in schemas]


def lacking(files_columns: list[list[str]], name: str) -> list[int]:
    """Indices of the files that do not hold ``name`` (the local engine feeds a consumer only the files that do)."""
    return [i for i, names in enumerate(files_columns) if name not in names]


def read_window(spark: Any, ctx: Any, wanted: list[str], start: datetime, end: datetime
                ) -> tuple[Any, list[list[str]], list[int]]:
    """The listed files as one DataFrame: wanted columns, file and row index, whether the row is in the window;
    each file's column names; the files filtered row by row (an edge hour, or outside the hourly layout, with a
    timestamp column: the local engine counts every row of those for the join-rate check)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, IntegerType

    files = list(ctx.prediction_files)
    files_columns, schema, layouts = _file_schemas([item.path for item in files])
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for item, names, layout in zip(files, files_columns, layouts, strict=True):
        groups.setdefault(layout, (names, []))[1].append(str(item.path))
    frame = None
    for names, paths in groups.values():  # files of one layout read together, columns cast to the common type
        part = spark.read.parquet(*paths)
        part = part.select(*[F.col(f"`{f.name}`").cast(f.dataType).alias(f.name) for f in schema.fields
                             if f.name in names], F.col("_metadata.file_path").alias(PATH),
                           F.col("_metadata.row_index").alias(ROW))
        frame = part if frame is None else frame.unionByName(part, allowMissingColumns=True)
    choices = []  # per file: -2 taken whole, -1 no timestamp column, else the index in TIMESTAMP_COLUMNS
    for item, names in zip(files, files_columns, strict=True):
        whole = item.hour is not None and start <= item.hour and item.hour + timedelta(hours=1) <= end
        choices.append(-2 if whole else next((i for i, c in enumerate(TIMESTAMP_COLUMNS) if c in names), -1))
    index_of = {os.path.realpath(item.path): i for i, item in enumerate(files)}
    present = [c for c in dict.fromkeys(wanted) if c in frame.columns]  # type: ignore[union-attr]
    times = [c for c in TIMESTAMP_COLUMNS if c in frame.columns]  # type: ignore[union-attr]
    frame = frame.select(*[F.col(f"`{c}`") for c in dict.fromkeys(present + times)], PATH, ROW)  # type: ignore

    def file_index(paths: pd.Series) -> pd.Series:
        """The file's position in ctx.prediction_files, from the path Spark read it by (a file: URI)."""
        codes, distinct = pd.factorize(paths)
        found = np.array([index_of.get(_local_path(str(path)), -1) for path in distinct], dtype=np.int32)
        if (found < 0).any():  # never guess: a row of an unknown file would land in another file's window
            raise ValueError(f"Spark read {distinct[found < 0][0]}, which is not one of the listed files")
        return pd.Series(found[codes] if len(distinct) else np.zeros(len(paths), dtype=np.int32))

    frame = frame.withColumn(FILE, F.pandas_udf(file_index, IntegerType())(F.col(PATH))).drop(PATH)  # type: ignore
    zone = spark.conf.get("spark.sql.session.timeZone")
    bounds = (pd.Timestamp(start), pd.Timestamp(end))

    choice_of = np.asarray(choices, dtype=np.int32)

    def inside(file: pd.Series, *moments: pd.Series) -> pd.Series:
        choice = pd.Series(choice_of[file.to_numpy()])
        result = choice.to_numpy() < 0
        for i, column in enumerate(TIMESTAMP_COLUMNS):
            if column not in times:
                continue
            rows = (choice == i).to_numpy()
            if rows.any():
                values = moments[times.index(column)][rows]
                if pd.api.types.is_datetime64_any_dtype(values.dtype) and values.dt.tz is None:
                    values = values.dt.tz_localize(zone)
                parsed = parse_timestamps(values)
                result[rows] = (parsed.notna() & (parsed >= bounds[0]) & (parsed < bounds[1])).to_numpy()
        return pd.Series(result)

    in_window = F.pandas_udf(inside, BooleanType())  # type: ignore[call-overload]
    frame = frame.withColumn(INSIDE, in_window(F.col(FILE), *[F.col(f"`{c}`") for c in times]))
    return frame, files_columns, [i for i, choice in enumerate(choices) if choice >= 0]


def with_keys(frame: Any) -> Any:
    """The normalised event id (``normalise_ids``, the local engine's own function) as ``KEY``."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    from dmm.analysis.join import normalise_ids

    def keys(ids: pd.Series) -> pd.Series:
        return pd.Series(normalise_ids(ids).to_numpy(dtype=object), dtype=object)

    return frame.withColumn(KEY, F.pandas_udf(keys, StringType())(F.col(ID_COLUMN)))  # type: ignore[call-overload]


def with_probe_flags(frame: Any) -> Any:
    """``PROBE``: whether the row's event id marks one of the toolkit's probes (``dmm.checks.probes``), decided by
    ``probe_row_mask`` as the local pass decides it; False throughout when there is no text id column (the probes'
    ids are text, so a numeric id column holds none, as locally)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, StringType

    if ID_COLUMN not in frame.columns or not isinstance(frame.schema[ID_COLUMN].dataType, StringType):
        return frame.withColumn(PROBE, F.lit(False))

    def flags(ids: pd.Series) -> pd.Series:
        import pyarrow as pa

        from dmm.checks.probes import probe_row_mask

        table = pa.table({ID_COLUMN: pa.array(ids, type=pa.string(), from_pandas=True)})
        mask = probe_row_mask(table, ID_COLUMN)
        if mask is None:
            return pd.Series(np.zeros(len(ids), dtype=bool))
        return pd.Series(mask.to_numpy(zero_copy_only=False), dtype=bool)

    return frame.withColumn(PROBE, F.pandas_udf(flags, BooleanType())(F.col(ID_COLUMN)))  # type: ignore[call-overload]
