from . import context


def record_request_origin(get_response):
    """Pages are the web channel, /api/ the API (or the vetted CLI, by its User-Agent)."""

    def middleware(request):
        channel = context.channel_of_request(request.path, request.headers.get("User-Agent", ""))
        with context.origin(channel):
            return get_response(request)

    return middleware
