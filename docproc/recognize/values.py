"""What a field's reading is worth: the normalized amount or ISO 8601 date of a field
whose template says ``type: amount`` or ``type: date`` (docs/templates.md), read from the
reading with its marks (``1.250,00``, ``01/02/2026``). None when the reading is no valid
amount or date: the field then goes to review, with the reason.
"""

from __future__ import annotations

import datetime
import re

from docproc.recognize.classes import DIGITS

# Marks written before or after an amount to fill the line or name the currency
# (``$1250``, ``*1250*``, ``1250=``, ``1250,-``): they are no part of its value.
AMOUNT_FILLERS = "$*#=-/"
DECIMAL_MARKS = ".,"
DATE_SEPARATORS = "/-."
# Two-digit years as POSIX strptime reads %y: 69-99 are 1969-1999, 00-68 are 2000-2068.
CENTURY_PIVOT = 69


def amount_value(symbols: str, decimals: int) -> str | None:
    """The amount ``symbols`` (digits and marks) is, as ``1250.00`` with ``decimals``
    places; None when it is none. The last ``.`` or ``,`` followed by exactly
    ``decimals`` digits is the decimal mark; every other one must group thousands (three
    digits after each). Without a decimal mark the amount is in whole units."""
    body = symbols.strip(AMOUNT_FILLERS)
    if not body or not body[0].isdigit() or any(ch not in DIGITS + DECIMAL_MARKS for ch in body):
        return None
    if body[-1] in DECIMAL_MARKS:
        body = body[:-1]  # "1250," as in "1250,-": no cents written
    groups = re.split(f"[{re.escape(DECIMAL_MARKS)}]", body)
    separators = [ch for ch in body if ch in DECIMAL_MARKS]
    fraction = ""
    if separators and decimals > 0 and len(groups[-1]) == decimals and not (
            len(groups) > 2 and separators[-1] == separators[-2]):
        fraction = groups.pop()
        separators.pop()
    if any(not group for group in groups):
        return None
    if separators and (len(set(separators)) > 1 or len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:])):
        return None
    units = str(int("".join(groups)))
    return units + ("." + fraction.ljust(decimals, "0") if decimals else "")


def date_value(symbols: str, order: str) -> str | None:
    """The date ``symbols`` (digits and marks) is, in ISO 8601 (``2026-02-01``), read in
    ``order`` (``DMY``, ``MDY`` or ``YMD``); None when it is none. With separators
    (``/ - .``) it is three numbers; without, 6 digits (two-digit year) or 8."""
    body = symbols.strip("".join(ch for ch in symbols if ch not in DIGITS))
    if not body:
        return None
    if any(ch not in DIGITS for ch in body):
        parts = re.split(f"[{re.escape(DATE_SEPARATORS)}]", body)
        if len(parts) != 3 or any(not part.isdigit() for part in parts):
            return None
        named = dict(zip(order, parts))
        if len(named["D"]) > 2 or len(named["M"]) > 2 or len(named["Y"]) not in (2, 4):
            return None
    else:
        if len(body) not in (6, 8):
            return None
        year_width = 4 if len(body) == 8 else 2
        widths = {"D": 2, "M": 2, "Y": year_width}
        named, at = {}, 0
        for key in order:
            named[key] = body[at: at + widths[key]]
            at += widths[key]
    year = int(named["Y"])
    if len(named["Y"]) == 2:
        year += 1900 if year >= CENTURY_PIVOT else 2000
    try:
        return datetime.date(year, int(named["M"]), int(named["D"])).isoformat()
    except ValueError:
        return None
