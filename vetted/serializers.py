"""The base of every API serializer: a JSON body's values must have the type the schema names.

DRF's fields convert what they can: `0` becomes the text "0", "3" the number 3, "yes" true. A
client that sends the wrong type has a bug we should tell it about, as the OpenAPI schema
promises, so a JSON body (a plain dict from the JSON parser) is checked against each writable
field's kind before the fields parse it. Multipart forms, where every value arrives as text,
are left to the fields as before. tests/test_api_input_types.py holds every serializer of the
project to this base.
"""

from rest_framework import serializers
from rest_framework.fields import empty

_TEXT = "text"
_INTEGER = "an integer"
_NUMBER = "a number"
_BOOLEAN = "true or false"
_LIST = "a list"
_OBJECT = "an object"


def _kind_of(value) -> str:
    if isinstance(value, bool):
        return _BOOLEAN
    if isinstance(value, int):
        return _INTEGER
    if isinstance(value, float):
        return _NUMBER
    if isinstance(value, str):
        return _TEXT
    if isinstance(value, list):
        return _LIST
    return _OBJECT if isinstance(value, dict) else "null"


def _expected_kind(field: serializers.Field) -> tuple[str, ...] | None:
    """What JSON kinds `field` takes; None: anything (the field checks it itself)."""
    if isinstance(field, serializers.BooleanField):
        return (_BOOLEAN,)
    if isinstance(field, serializers.IntegerField):
        return (_INTEGER,)
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        return (_INTEGER, _NUMBER)
    if isinstance(field, serializers.ListField | serializers.ListSerializer):
        return (_LIST,)
    if isinstance(field, serializers.MultipleChoiceField):
        return (_LIST,)
    if isinstance(field, serializers.ChoiceField):
        kinds = {_kind_of(choice) for choice in field.choices}
        return tuple(kinds) if kinds else None
    if isinstance(
        field,
        serializers.CharField
        | serializers.DateTimeField
        | serializers.DateField
        | serializers.UUIDField,
    ):
        return (_TEXT,)
    if isinstance(field, serializers.DictField | serializers.Serializer):
        return (_OBJECT,)
    return None


def type_error(field: serializers.Field, value) -> str | None:
    """Why `value`, as parsed from JSON, does not fit `field`, or None if it does."""
    if value is None:
        return None  # the field's allow_null decides
    expected = _expected_kind(field)
    if expected is None:
        return None
    kind = _kind_of(value)
    if kind not in expected:
        wanted = " or ".join(expected)
        return f"Expected {wanted}, not {'null' if kind == 'null' else kind}."
    child = getattr(field, "child", None)
    if kind == _LIST and child is not None:
        for position, item in enumerate(value):
            problem = type_error(child, item)
            if problem:
                return f"Item {position + 1}: {problem}"
    return None


class JSONTypedInput:
    """Checks a JSON body's value types field by field (see the module's docstring)."""

    def to_internal_value(self, data):
        if type(data) is dict:
            errors = {}
            for name, field in self.fields.items():  # type: ignore[attr-defined]
                if field.read_only or field.field_name not in data:
                    continue
                value = data[field.field_name]
                if value is empty:
                    continue
                problem = type_error(field, value)
                if problem:
                    errors[name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class TypedSerializer(JSONTypedInput, serializers.Serializer):
    pass


class TypedModelSerializer(JSONTypedInput, serializers.ModelSerializer):
    pass
