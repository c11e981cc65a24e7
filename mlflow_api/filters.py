"""MLflow's search filters (registered models and versions) and order_by (models), for the ORM.

The grammar is MLflow's (mlflow/utils/search_utils.py, SearchModelUtils and
SearchModelVersionUtils): comparisons joined by AND, e.g.
``name LIKE 'fraud-%' AND tag.`mlflow.prompt.is_prompt` != 'true'``. A tag comparison needs
the tag to be there, except MLflow's prompt marker: Vetted holds no prompts, so a model without
`mlflow.prompt.is_prompt` counts as "false", as MLflow does for its normal models.
"""

import re
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from .models import ModelVersionTag, RegisteredModelTag
from .wire import invalid

IS_PROMPT_TAG = "mlflow.prompt.is_prompt"

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
      | (?P<backticked>`[^`]*`)
      | (?P<operator>!=|<>|<=|>=|=|<|>)
      | (?P<punctuation>[(),])
      | (?P<number>-?\d+(?!\w))
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.(?:`[^`]*`|"[^"]*"|[A-Za-z0-9_.\-]+))?)
    )""",
    re.VERBOSE,
)


@dataclass
class Token:
    kind: str
    text: str


@dataclass
class Comparison:
    kind: str  # "attribute" or "tag"
    key: str
    comparator: str
    value: str | int | list[str]


def _tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise invalid(
                f"Invalid filter string {text!r}: cannot read {text[position:].strip()[:30]!r}."
            )
        kind = match.lastgroup
        assert kind is not None
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    return tokens


def _unquote(literal: str) -> str:
    quote, body = literal[0], literal[1:-1]
    body = body.replace(quote * 2, quote)
    return re.sub(r"\\(.)", r"\1", body)


def _identifier(token: Token) -> tuple[str, str]:
    """("attribute", "name") or ("tag", key) for `name`, `tag.key`, ``tags.`a.b` ``."""
    if token.kind == "backticked":
        return "attribute", token.text[1:-1]
    if token.kind != "word":
        raise invalid(f"Invalid filter: expected a name or tag.<key>, got {token.text!r}.")
    entity, dot, key = token.text.partition(".")
    if not dot:
        return "attribute", entity
    if entity not in ("attribute", "tag", "tags"):
        raise invalid(
            f"Invalid entity type '{entity}'. Valid entity types are ('attribute', 'tag', 'tags')."
        )
    if key[:1] in ("`", '"') and key[-1:] == key[:1] and len(key) > 1:
        key = key[1:-1]
    return ("tag" if entity in ("tag", "tags") else "attribute"), key


def _parse(text: str) -> list[Comparison]:
    tokens = _tokenize(text)
    comparisons: list[Comparison] = []
    position = 0

    def take() -> Token:
        nonlocal position
        if position >= len(tokens):
            raise invalid(f"Invalid filter string {text!r}: it ends in the middle of a clause.")
        position += 1
        return tokens[position - 1]

    def upcoming(word: str) -> bool:
        return (
            position < len(tokens)
            and tokens[position].kind == "word"
            and tokens[position].text.upper() == word
        )

    while True:
        kind, key = _identifier(take())
        operator = take()
        if operator.kind == "operator":
            comparator = "!=" if operator.text == "<>" else operator.text
        elif operator.kind == "word" and operator.text.upper() in ("LIKE", "ILIKE", "IN"):
            comparator = operator.text.upper()
        elif operator.kind == "word" and operator.text.upper() == "NOT" and upcoming("IN"):
            take()
            comparator = "NOT IN"
        else:
            raise invalid(
                f"Invalid comparator {operator.text!r} in filter {text!r}: use =, !=, LIKE,"
                " ILIKE, IN or NOT IN."
            )
        value: str | int | list[str]
        if comparator in ("IN", "NOT IN"):
            if take().text != "(":
                raise invalid(f"Invalid filter {text!r}: IN needs a list like ('a', 'b').")
            items: list[str] = []
            while True:
                item = take()
                if item.kind != "string":
                    raise invalid(f"Invalid filter {text!r}: IN lists hold quoted strings.")
                items.append(_unquote(item.text))
                closing = take()
                if closing.text == ")":
                    break
                if closing.text != ",":
                    raise invalid(f"Invalid filter {text!r}: expected ',' or ')' in the IN list.")
            value = items
        else:
            literal = take()
            if literal.kind == "string":
                value = _unquote(literal.text)
            elif literal.kind == "number":
                value = int(literal.text)
            else:
                raise invalid(
                    f"Expected a quoted string value in filter {text!r}, got {literal.text!r}."
                )
        comparisons.append(Comparison(kind, key, comparator, value))
        if position == len(tokens):
            return comparisons
        joiner = take()
        if joiner.kind != "word" or joiner.text.upper() != "AND":
            raise invalid(
                f"Invalid clause(s) in filter string: {joiner.text!r}. Only AND joins clauses."
            )


def _like_regex(pattern: str) -> str:
    """SQL LIKE (% any run, _ one character, backslash escapes) as an anchored regex."""
    parts, escaped = [], False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return "^" + "".join(parts) + "$"


def _string_condition(field: str, comparator: str, value) -> Q:
    if comparator in ("IN", "NOT IN"):
        found = Q(**{f"{field}__in": value})
        return ~found if comparator == "NOT IN" else found
    if not isinstance(value, str):
        raise invalid(f"Expected a quoted string value for '{field}', got {value!r}.")
    if comparator == "=":
        return Q(**{field: value})
    if comparator == "!=":
        return ~Q(**{field: value})
    if comparator == "LIKE":
        return Q(**{f"{field}__regex": _like_regex(value)})
    if comparator == "ILIKE":
        return Q(**{f"{field}__iregex": _like_regex(value)})
    raise invalid(f"Invalid comparator '{comparator}' for '{field}': use =, !=, LIKE or ILIKE.")


def _tag_condition(tag_rows: QuerySet, comparison: Comparison) -> Q:
    if comparison.comparator not in ("=", "!=", "LIKE", "ILIKE"):
        raise invalid(
            f"Invalid comparator '{comparison.comparator}' for tag '{comparison.key}':"
            " use =, !=, LIKE or ILIKE."
        )
    if not isinstance(comparison.value, str):
        raise invalid(
            f"Expected a quoted string value for tag '{comparison.key}'"
            f" (e.g. 'my-value'), got {comparison.value!r}."
        )
    rows = tag_rows.filter(key=comparison.key)
    if comparison.comparator == "!=":
        matching = rows.exclude(value=comparison.value)
    else:
        matching = rows.filter(_string_condition("value", comparison.comparator, comparison.value))
    condition = Q(Exists(matching))
    value = comparison.value.lower()
    if comparison.key == IS_PROMPT_TAG and (comparison.comparator, value) in (
        ("!=", "true"),
        ("=", "false"),
    ):
        condition |= ~Q(Exists(rows))
    return condition


def parse_model_filter(text: str | None) -> Q:
    """A registered-model search filter: `name` and `tag.<key>` comparisons."""
    condition = Q()
    for comparison in _parse(text) if text and text.strip() else []:
        if comparison.kind == "tag":
            tags = RegisteredModelTag.objects.filter(model=OuterRef("pk"))
            condition &= _tag_condition(tags, comparison)
        elif comparison.key == "name":
            condition &= _string_condition("name", comparison.comparator, comparison.value)
        else:
            raise invalid(
                f"Invalid attribute key '{comparison.key}' specified. Valid keys are '{{'name'}}'"
            )
    return condition


_VERSION_STRINGS = {
    "name": "model__name",
    "run_id": "mlflow_source__mlflow_run_id",
    "source_path": "mlflow_source__source",
}
_NUMERIC = {"=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def parse_version_filter(text: str | None) -> Q:
    """A model-version search filter: `name`, `version_number`, `run_id`, `source_path` and
    `tag.<key>` comparisons."""
    condition = Q()
    for comparison in _parse(text) if text and text.strip() else []:
        if comparison.kind == "tag":
            tags = ModelVersionTag.objects.filter(version=OuterRef("pk"))
            condition &= _tag_condition(tags, comparison)
        elif comparison.key in _VERSION_STRINGS:
            field = _VERSION_STRINGS[comparison.key]
            if comparison.comparator in ("IN", "NOT IN") and comparison.key == "source_path":
                raise invalid("IN is supported for 'name' and 'run_id' only.")
            condition &= _string_condition(field, comparison.comparator, comparison.value)
        elif comparison.key == "version_number":
            condition &= _version_number_condition(comparison)
        else:
            raise invalid(
                f"Invalid attribute key '{comparison.key}' specified. Valid keys are"
                " 'name', 'version_number', 'run_id', 'source_path'."
            )
    return condition


def _version_number_condition(comparison: Comparison) -> Q:
    try:
        number = int(comparison.value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise invalid(
            f"version_number must be compared with an integer, not {comparison.value!r}."
        ) from None
    if comparison.comparator == "!=":
        return ~Q(number=number)
    if comparison.comparator not in _NUMERIC:
        raise invalid(
            f"Invalid comparator '{comparison.comparator}' for version_number:"
            " use =, !=, <, <=, > or >=."
        )
    return Q(**{f"number__{_NUMERIC[comparison.comparator]}": number})


_ORDER = re.compile(r"^\s*`?(?P<key>[A-Za-z_]+)`?(?:\s+(?P<direction>ASC|DESC))?\s*$", re.I)


def model_ordering(order_by: list[str]) -> list:
    """order_by for registered models (MLflow: name, timestamps); ties go by name."""
    fields = {
        "name": "name",
        "creation_timestamp": "created_at",
        "last_updated_timestamp": "updated_at",
        "timestamp": "updated_at",
    }
    ordering, seen = [], set()
    for clause in order_by:
        match = _ORDER.match(clause)
        if match is None or match.group("key") not in fields:
            raise invalid(
                f"Invalid order_by clause {clause!r}: use one of {', '.join(sorted(fields))},"
                " optionally followed by ASC or DESC."
            )
        field = fields[match.group("key")]
        if field in seen:
            raise invalid(f"`order_by` contains duplicate fields: {order_by}")
        seen.add(field)
        descending = (match.group("direction") or "ASC").upper() == "DESC"
        ordering.append(F(field).desc() if descending else F(field).asc())
    if "name" not in seen:
        ordering.append(F("name").asc())
    return ordering
