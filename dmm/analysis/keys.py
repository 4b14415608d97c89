"""Class values and event ids as the text they are compared by (``CLASS_KEY_RULE``): one value (``class_key``) or a
whole column, vectorised (``class_keys``). Used by the bins, the quality metrics and the label join."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

# The rule for class values and event ids, a function of the value alone (the same in every chunk and file):
CLASS_KEY_RULE = ("class values and ids are compared as text after one rule applied to each value alone: missing "
                  "values and blank text are missing; surrounding whitespace is removed; numbers (of any type, or "
                  "text written as a plain decimal such as '1' or '-2.50') equal as numbers are the same: whole "
                  "numbers are written without a fractional part (1, 1.0 and '1' are '1'), others in Python's "
                  "shortest round-trip form ('2.5', '1e+300', 'inf'); booleans are 'True'/'False'; other text "
                  "is kept as written")
WHOLE_LIMIT = 2 ** 53  # whole floats below this are exact integers
SAMPLE_ROWS = 4096  # rows class_keys looks at to choose how to key a column of text
_DECIMAL = re.compile(r"[+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


def _float_key(number: float) -> str | None:
    if math.isnan(number):
        return None
    if number.is_integer() and abs(number) < WHOLE_LIMIT:
        return str(int(number))
    return repr(number)


def _int_key(number: int) -> str:
    if abs(number) < WHOLE_LIMIT:
        return str(number)
    as_float = float(number) if abs(number) < 2 ** 1023 else math.inf
    # an integer a float can hold exactly is written as that float is, so 10**17 and 1e17 agree
    return repr(as_float) if math.isfinite(as_float) and int(as_float) == number else str(number)


def class_key(value: Any) -> str | None:
    """The text a class value or an id is compared as (``CLASS_KEY_RULE``); None for a missing value."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return _int_key(int(value))
    if isinstance(value, (float, np.floating)):
        return _float_key(float(value))
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = text.strip()
    if not text:
        return None
    if _DECIMAL.fullmatch(text):
        return _int_key(int(text)) if "." not in text else _float_key(float(text))
    return text


def _bool_or_bit(value: Any) -> bool:
    """A value that factorize may have merged with a boolean (True == 1 == 1.0, False == 0)."""
    return isinstance(value, (bool, np.bool_, int, float, np.number)) and value in (0, 1)


def _distinct_keys(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes per row, key per distinct value, count per distinct value); code -1 is a missing value.
    Keys are computed once per distinct value, which keeps large columns fast."""
    codes, distinct = pd.factorize(series, use_na_sentinel=True)
    if series.dtype == object and any(_bool_or_bit(v) for v in distinct) \
            and any(isinstance(v, (bool, np.bool_)) for v in series.array):
        # True == 1 and False == 0 in Python, so factorize may have merged them: key every row instead
        keys = np.array([class_key(v) for v in series.tolist()], dtype=object)
        codes, distinct = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    keys = np.array([class_key(v) for v in distinct], dtype=object)
    tallies = np.bincount(codes[codes >= 0], minlength=len(keys)).astype(np.int64)
    return codes, keys, tallies


def _text_keys(series: pd.Series) -> np.ndarray:
    """``class_key`` of a column of text, vectorised: only text that reads as a decimal is keyed one by one."""
    text = series.astype("string").str.strip()
    decimal = text.str.fullmatch(_DECIMAL.pattern).fillna(False).to_numpy(dtype=bool)
    values = text.mask(text == "").to_numpy(dtype=object, na_value=None)
    if decimal.any():  # keyed once per distinct text: class_key is a function of the value alone
        codes, distinct = pd.factorize(values[decimal])
        values[decimal] = np.array([class_key(value) for value in distinct], dtype=object)[codes]
    return values


def _few_distinct(series: pd.Series) -> bool:
    """Whether a column of text repeats its values (labels, classes) rather than naming each row (ids), judged on
    its first rows: keying each distinct value once then costs a third of keying every row, and the keys share
    their strings (issue 14: the two label columns of a million matched rows held ~120 MB of copies)."""
    head = series.iloc[:SAMPLE_ROWS]
    return len(series) > SAMPLE_ROWS and len(pd.unique(head)) <= len(head) // 4


def _keyed(codes: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Each row's key from its code (a position in ``keys``; -1: missing, None)."""
    out = np.full(len(codes), None, dtype=object)
    known = codes >= 0
    out[known] = keys[codes[known]]
    return out


def _text_keys_by_distinct(series: pd.Series) -> np.ndarray:
    codes, distinct = pd.factorize(series, use_na_sentinel=True)
    return _keyed(codes, _text_keys(pd.Series(distinct)))


def class_keys(values: Any) -> pd.Series:
    """Each value's ``class_key`` in the input's order, as an object Series of str (None where missing)."""
    series = (values if isinstance(values, pd.Series) else pd.Series(values)).reset_index(drop=True)
    if (series.dtype == object or isinstance(series.dtype, pd.StringDtype)) \
            and pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        keyed = _text_keys_by_distinct(series) if _few_distinct(series) else _text_keys(series)
        return pd.Series(keyed, dtype=object)
    codes, keys, _ = _distinct_keys(series)
    return pd.Series(_keyed(codes, keys), dtype=object)


as_class_text = class_keys  # the older name
