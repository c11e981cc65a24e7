"""The JSON Vetted accepts, decided once for every JSON field of the API and the pages.

Finite numbers only (no NaN or Infinity, no integer beyond 64 bits), no NUL character in keys or
strings (PostgreSQL cannot store one), at most 32 levels deep and 10,000 values in all. Parsing
never recurses past that depth, so a hostile body is a 400, never a RecursionError.
"""

import json
import math

from django.core.exceptions import ValidationError

MAX_DEPTH = 32
MAX_VALUES = 10_000
MAX_INTEGER = 2**63 - 1


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a finite number; use a string for it.")


def _invalid(field: str, text: str) -> ValidationError:
    return ValidationError(f"{field}: {text}" if field else text[0].upper() + text[1:])


def parse(text: str | bytes, *, field: str = ""):
    """`text` as a JSON value within the rules above, or a ValidationError (naming `field` if
    given; the API's error shape already names the field)."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise _invalid(field, f"nested more than {MAX_DEPTH} levels deep.") from None
    except json.JSONDecodeError as exc:
        raise _invalid(field, f"not valid JSON: {exc.msg}.") from None
    except ValueError as exc:
        raise _invalid(field, str(exc)) from None
    check(value, field=field)
    return value


def check(value, *, field: str = "") -> None:
    """Walk `value` without recursion and refuse what the rules do not allow."""
    pending = [(value, 1)]
    seen = 0
    while pending:
        item, depth = pending.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise _invalid(field, f"more than {MAX_VALUES} values.")
        if depth > MAX_DEPTH:
            raise _invalid(field, f"nested more than {MAX_DEPTH} levels deep.")
        if isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key, field)
                pending.append((inner, depth + 1))
        elif isinstance(item, list | tuple):
            pending.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            _check_text(item, field)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > MAX_INTEGER:
                raise _invalid(field, f"the integer {str(item)[:20]}… is too large.")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _invalid(field, f"{item} is not a finite number; use a string for it.")
        else:
            raise _invalid(field, f"{type(item).__name__} is not a JSON value.")


def _check_text(text, field: str) -> None:
    if isinstance(text, str) and "\x00" in text:
        raise _invalid(field, "text may not contain the NUL character (\\u0000).")
