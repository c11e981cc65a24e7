"""The API schema's address opened in a browser: the schema shown as a page, not a download."""

from django.template.loader import render_to_string
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import BaseRenderer


class SchemaPageRenderer(BaseRenderer):
    """For `Accept: text/html`: the same YAML, readable in a page.

    A browser saves the OpenAPI media types as a file. API clients ask for those (or send */*,
    or `?format=`) and get them exactly as before; only a browser asks for HTML first.
    """

    media_type = "text/html"
    format = "html"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        request = renderer_context["request"]
        schema = OpenApiYamlRenderer().render(data).decode()
        return render_to_string("api/schema.html", {"schema": schema}, request=request._request)


class SchemaView(SpectacularAPIView):
    renderer_classes = [*SpectacularAPIView.renderer_classes, SchemaPageRenderer]
