"""Read a tabular file (CSV/TSV, Parquet or JSON Lines, chosen by extension) into a DataFrame, or say why not.

pandas quietly renames duplicate columns (``x`` and ``x.1``) and empty headers (``Unnamed: 3``), so column
names are checked against the file's own header before pandas sees it.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from dmm.errors import UsageError

if TYPE_CHECKING:  # pandas is imported where a file is read, so scripts' --help stays fast
    import pandas as pd

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
SUPPORTED = ", ".join(sorted([*CSV_SUFFIXES, *PARQUET_SUFFIXES, *JSONL_SUFFIXES]))
# A format named explicitly (``read_table(path, file_format=...)``) -> the suffix it reads as.
FORMATS = {"csv": ".csv", "tsv": ".tsv", "parquet": ".parquet", "pq": ".parquet", "jsonl": ".jsonl",
           "ndjson": ".jsonl", "json": ".jsonl"}


def read_table(path: str | os.PathLike[str], file_format: str | None = None) -> pd.DataFrame:
    """The file's rows, with column names that capture and the training-set API can use unchanged.

    The format comes from the extension, or from ``file_format`` (``csv``, ``tsv``, ``parquet``, ``jsonl``)
    when given. This is the one table reader: ``dmm.analysis.readers.read_table_file`` calls it.
    """
    path = Path(path)
    if file_format is not None:
        suffix = FORMATS.get(file_format.lower().lstrip("."), "")
        if not suffix:
            raise UsageError(f"Unknown table format '{file_format}' for {path}",
                             f"Pass the format as one of {', '.join(sorted(FORMATS))}", code="file-unsupported")
    else:
        suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES and suffix not in PARQUET_SUFFIXES and suffix not in JSONL_SUFFIXES:
        raise UsageError(f"{path} has an unsupported extension '{path.suffix}'",
                         f"Save the data as one of {SUPPORTED}", code="file-unsupported")
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"{path} does not exist", "Check the path given with --file", code="file-missing")
    if not path.is_file():
        from dmm.paths import check_readable_file

        check_readable_file(path, "The data file", flag="--file")  # says which: a link loop, a folder, ...
        raise UsageError(f"{path} is not a file", "Pass the path of a data file with --file", code="file-not-a-file")
    if path.stat().st_size == 0:
        raise UsageError(f"{path} is empty", "Export the data again; the file must hold a header and at least one row",
                         code="file-empty")

    if suffix in CSV_SUFFIXES:
        frame = _read_csv(path, CSV_SUFFIXES[suffix])
    elif suffix in PARQUET_SUFFIXES:
        frame = _read_parquet(path)
    else:
        frame = _read_jsonl(path)

    if frame.empty:
        raise UsageError(f"{path} has no data rows", "Export the data again with at least one row under the header",
                         code="file-no-rows")
    return frame


def check_column_names(columns: Iterable[object], source: str) -> None:
    """Raise ``UsageError`` unless every name is a non-empty string without surrounding spaces, and unique."""
    seen: set[str] = set()
    for name in columns:
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"{source} has a column without a name ({name!r})",
                             "Give every column a name in the header", code="column-unnamed")
        if name != name.strip():
            raise UsageError(f"Column '{name}' in {source} has leading or trailing spaces",
                             f"Rename it to '{name.strip()}' in the file", code="column-padded")
        if name in seen:
            raise UsageError(f"{source} has the column name '{name}' more than once",
                             "Rename or drop the duplicate columns so that every name is unique",
                             code="column-duplicate")
        seen.add(name)


def _unreadable(path: Path, kind: str, exc: BaseException) -> UsageError:
    if isinstance(exc, UnicodeDecodeError):
        from dmm.paths import not_utf8

        return not_utf8(path, f"The {kind} file", exc)
    if isinstance(exc, OSError) and not str(exc).startswith("Could not open Parquet"):
        return UsageError(f"Cannot read the {kind} file {path} ({exc.strerror or exc})", "Check the file's permissions",
                          code="file-unreadable")
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return UsageError(f"{path} could not be read as {kind} ({detail})",
                      f"Check that the file is a valid {kind} file, or export it again", code="file-unreadable")


def _read_csv(path: Path, separator: str) -> pd.DataFrame:
    import pandas as pd

    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle, delimiter=separator), None)
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise _unreadable(path, "CSV", exc) from None
    if not header:
        raise UsageError(f"{path} has no header row", "The first line must name the columns", code="file-no-header")
    check_column_names(header, str(path))
    try:
        return pd.read_csv(path, sep=separator, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path} is empty", "Export the data again with a header and rows",
                         code="file-empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise _unreadable(path, "CSV", exc) from None


def _read_parquet(path: Path) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        check_column_names(names, str(path))
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _unreadable(path, "Parquet", exc) from None


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        duplicate = next(key for key in keys if keys.count(key) > 1)
        raise _DuplicateKey(duplicate)
    return dict(pairs)


class _DuplicateKey(Exception):
    pass


def _read_jsonl(path: Path) -> pd.DataFrame:
    import pandas as pd

    records = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                record = json.loads(line, object_pairs_hook=_reject_duplicate_keys)
                if not isinstance(record, dict):
                    raise UsageError(f"Line {number} of {path} is not a JSON object",
                                     "Write one JSON object per line, keyed by column name", code="file-unreadable")
                records.append(record)
    except _DuplicateKey as exc:
        raise UsageError(f"{path} has the column name '{exc.args[0]}' more than once in a record",
                         "Rename or drop the duplicate keys so that every name is unique",
                         code="column-duplicate") from None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise _unreadable(path, "JSON Lines", exc) from None
    if not records:
        raise UsageError(f"{path} has no data rows", "Write one JSON object per line", code="file-no-rows")
    frame = pd.DataFrame.from_records(records)
    check_column_names(frame.columns, str(path))
    return frame


def check_output_dir(output_dir: str | os.PathLike[str], flag: str = "--output-dir") -> Path:
    """Raise ``UsageError`` unless ``output_dir`` is (or can be created as) a writable folder; nothing is created."""
    from dmm.paths import refuse_link_loop

    folder = Path(output_dir)
    refuse_link_loop(folder, flag)
    existing = next((path for path in (folder, *folder.absolute().parents) if path.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UsageError(f"The output folder {folder} is not a folder ({existing} is a file)",
                         f"Pass a folder with {flag}", code="output-dir-not-a-folder")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"The output folder {folder} is not writable", f"Pass a writable folder with {flag}",
                         code="output-dir-not-writable")
    return folder


def read_table_bytes(name: str, data: bytes) -> pd.DataFrame:
    """A table downloaded from a data source: Parquet when ``name`` says so, else CSV."""
    import io

    import pandas as pd
    import pyarrow as pa

    kind = "Parquet" if name.lower().endswith(PARQUET_SUFFIXES) else "CSV"
    try:
        if kind == "Parquet":
            return pd.read_parquet(io.BytesIO(data))
        return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        from dmm.paths import not_utf8

        raise not_utf8(Path(name), "The downloaded CSV file", exc) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, pa.ArrowException, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"The downloaded file {name} could not be read as {kind} ({detail})",
                         "Upload a valid file again (step 5 --file), or remove it from the data source",
                         code="file-unreadable") from None
