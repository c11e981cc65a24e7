"""Request bodies in JSON, parsed under the project's JSON rules (vetted/api/json_input.py)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from . import json_input


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError:
            raise ParseError(f"The request body is not {encoding} text.") from None
        try:
            return json_input.parse(text, field="The request body")
        except ValidationError as invalid:
            raise ParseError(" ".join(invalid.messages)) from None
