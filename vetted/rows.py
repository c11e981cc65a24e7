"""The two lookups every API call starts with, its token and then its model, in SQL built once.

Compiling either query through the ORM costs the web process three to five times the CPU of
running it (about 1.1 and 1.9 ms against 0.3 ms here), and a push makes both. The SQL is built
from the models' own metadata, and every value goes through its field's database converters, so
the instances are those the ORM would return, with the joined object cached as `select_related`
caches it; tests/test_rows.py compares them field by field with the ORM's, on SQLite and
PostgreSQL.

The ORM comes first: a new hand-written query needs a benchmark in bench/ showing why, and its
own comparison test.
"""

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Field, ForeignKey, Model


class Columns:
    """Some of a model's columns under a table alias, and how to turn them into Python values."""

    def __init__(self, model: type[Model], alias: str, names: list[str] | None = None):
        concrete = model._meta.concrete_fields
        self.model = model
        self.alias = alias
        self.fields = [f for f in concrete if names is None or f.name in names]
        self.complete = len(self.fields) == len(concrete)
        self.sql = ", ".join(f"{alias}.{_quoted(f)}" for f in self.fields)
        self.converters = []
        for field in self.fields:
            column = field.get_col(alias)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            self.converters.append((column, found))

    def column(self, field_name: str) -> str:
        """`alias.column` of any of the model's fields, for joins and conditions."""
        field = self.model._meta.get_field(field_name)
        assert isinstance(field, Field)
        return f"{self.alias}.{_quoted(field)}"

    def __len__(self) -> int:
        return len(self.fields)

    def values(self, raw) -> list:
        converted = []
        for value, (column, converters) in zip(raw, self.converters, strict=True):
            for convert in converters:
                value = convert(value, column, connection)
            converted.append(value)
        return converted

    def instance(self, raw) -> Model:
        assert self.complete, "an instance needs every concrete column"
        attnames = [f.attname for f in self.fields]
        return self.model.from_db(DEFAULT_DB_ALIAS, attnames, self.values(raw))


def _quoted(field: Field) -> str:
    assert field.column is not None
    return connection.ops.quote_name(field.column)


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def fetch_one(sql: str, params: list, *parts: Columns) -> list | None:
    """The single row `sql` selects, split into each part's converted values or instance."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    split, start = [], 0
    for part in parts:
        raw = row[start : start + len(part)]
        split.append(part.instance(raw) if part.complete else part.values(raw))
        start += len(part)
    return split


def attach(instance: Model, field_name: str, related: Model) -> None:
    """Cache `related` on `instance` as `select_related(field_name)` would."""
    field = instance._meta.get_field(field_name)
    assert isinstance(field, ForeignKey)
    field.set_cached_value(instance, related)
