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
    raise ValueError(f"{name} is not a number JSON allows; send a finite number or a string.")


def parse(text: str | bytes, *, field: str = "JSON"):
    """`text` as a JSON value within the rules above, or a ValidationError naming `field`."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValidationError(f"{field}: nested more than {MAX_DEPTH} levels deep.") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{field}: not valid JSON ({exc.msg}).") from None
    except ValueError as exc:
        raise ValidationError(f"{field}: {exc}") from None
    check(value, field=field)
    return value


def check(value, *, field: str = "JSON") -> None:
    """Walk `value` without recursion and refuse what the rules do not allow."""
    pending = [(value, 1)]
    seen = 0
    while pending:
        item, depth = pending.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise ValidationError(f"{field}: more than {MAX_VALUES} values.")
        if depth > MAX_DEPTH:
            raise ValidationError(f"{field}: nested more than {MAX_DEPTH} levels deep.")
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
                raise ValidationError(f"{field}: the integer {str(item)[:20]}… is too large.")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValidationError(f"{field}: {item} is not a finite number.")
        else:
            raise ValidationError(f"{field}: {type(item).__name__} is not a JSON value.")


def _check_text(text, field: str) -> None:
    if isinstance(text, str) and "\x00" in text:
        raise ValidationError(f"{field}: text may not contain the NUL character (\\u0000).")
