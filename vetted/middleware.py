"""Requests refused before any view sees them."""

from django.http import HttpResponse, JsonResponse

NUL_MESSAGE = "The address contains a NUL byte (%00), which no name or filter in Vetted can hold."


def refuse_nul_bytes(get_response):
    """A NUL byte in the path or query string is a 400 here.

    PostgreSQL cannot store or compare text holding one, so otherwise it would fail as a 500
    in whichever lookup the value reached first (model, alias, search …). Request bodies are
    already checked by the form and serializer fields.
    """

    def middleware(request):
        query = request.GET
        if "\x00" in request.path or any("\x00" in k + v for k, v in query.items()):
            if request.path.startswith("/api/"):
                error = {"status": 400, "code": "invalid", "message": NUL_MESSAGE, "detail": {}}
                return JsonResponse({"error": error}, status=400)
            return HttpResponse(NUL_MESSAGE, status=400, content_type="text/plain")
        return get_response(request)

    return middleware
