"""Check digits: whether a field's digits end in the digit their scheme asks for.

Each scheme takes the whole reading, check digit last (docs/templates.md):

- ``luhn``: the Luhn algorithm (payment cards, many account numbers): from the right, every
  second digit doubled (its digits summed), the total a multiple of 10.
- ``mod10``: weights 1 and 3 alternating from the right (the check digit's weight 1), the
  total a multiple of 10: GTIN, EAN, UPC.
- ``mod11``: weights 1, 2, 3, ... from the right, the total a multiple of 11: ISBN-10 and
  other mod-11 numbers (a number whose check would be 10, written X, cannot be read in digits).
- ``mod97``: the number taken whole, its remainder by 97 is 1 (ISO 7064 MOD 97-10, as
  IBANs are checked once their letters are moved and turned into digits).
"""

from __future__ import annotations

from collections.abc import Callable


def _luhn(digits: str) -> bool:
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = int(ch)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mod10(digits: str) -> bool:
    return sum(int(ch) * (3 if position % 2 else 1) for position, ch in enumerate(reversed(digits))) % 10 == 0


def _mod11(digits: str) -> bool:
    return sum(int(ch) * (position + 1) for position, ch in enumerate(reversed(digits))) % 11 == 0


def _mod97(digits: str) -> bool:
    return int(digits) % 97 == 1


SCHEMES: dict[str, Callable[[str], bool]] = {"luhn": _luhn, "mod10": _mod10, "mod11": _mod11, "mod97": _mod97}


def passes(digits: str, scheme: str) -> bool:
    """Whether ``digits`` (two or more, the check digit last) pass ``scheme`` (see SCHEMES)."""
    return len(digits) >= 2 and digits.isdigit() and digits.isascii() and SCHEMES[scheme](digits)


def completed(body: str, scheme: str) -> str | None:
    """``body`` with the check digit ``scheme`` asks for appended, or None when no one
    digit passes (a mod-11 check of 10)."""
    return next((body + digit for digit in "0123456789" if passes(body + digit, scheme)), None)
