"""Log records that carry their request's id, and 4xx answers logged as one line."""

import logging


class RequestContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "id", "-")
        # Django logs every 4xx with the exception's traceback: a refused request is one line.
        if record.name == "django.request" and getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
