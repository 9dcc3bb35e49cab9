"""Cells a spreadsheet would run as formulas, neutralised in CSV and TSV output.

Whoever controls an API's answers controls what a spreadsheet does with a cell that begins
like a formula (OWASP's "CSV Injection"): it runs it. The rule, from OWASP's page
(owasp.org/www-community/attacks/CSV_Injection): no cell may begin with ``=``, ``+``, ``-``,
``@``, tab (0x09), carriage return (0x0D) or line feed (0x0A) -- OWASP's ASVS (V1.2.10)
adds NUL (0x00), and so do we -- and such a cell gets a single quote before it, which
spreadsheets take as "this cell is text". The page goes on: a separator inside a cell can
start a new cell for a reader that splits on another separator (a CSV opened where ``;``
separates), with a dangerous character first; OWASP's answer is to quote such cells whole.

Applied to what came from the API: its values, its column names in the header, and the
``error`` column. Never to the user's own input cells and column names, which are written
as read. Not to numbers: a Python int or float, or a text that is a plain finite decimal
number (``-12.5``, ``+44``, ``-1e-05``), which a spreadsheet reads as that number and runs
nothing. JSON Lines and Parquet are not spreadsheets' formats: nothing is changed there.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["hides_formula", "neutral"]

_FORMULA_START = frozenset("=+-@\t\r\n\0")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A separator another reader might split on, then (past quotes and spaces) a formula's start.
_HIDDEN = re.compile(r"[,;\t][\"' ]*[=+\-@\t\r\n\0]")


def neutral(value: Any) -> Any:
    """``value`` as a spreadsheet cannot run it: a text beginning like a formula (and not a
    plain number) with ``'`` before it; anything else as it is."""
    if isinstance(value, str) and value[:1] in _FORMULA_START and not _is_number(value):
        return "'" + value
    return value


def hides_formula(value: Any) -> bool:
    """Whether a text holds, after a separator, what begins a formula: its cell is quoted
    so that no reader splits a cell off it there."""
    return isinstance(value, str) and _HIDDEN.search(value) is not None


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None and math.isfinite(float(text))
