"""Page numbers of every API list."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class StrictPageNumberPagination(PageNumberPagination):
    """`page` is a whole number from 1 (or `last`): anything else is a 400 naming it, not a
    silent first page; a page past the last one stays a 404."""

    def get_page_number(self, request, paginator):
        page = request.query_params.get(self.page_query_param)
        if page is None or page in self.last_page_strings:
            return super().get_page_number(request, paginator)
        if not (page.isascii() and page.isdigit() and int(page) >= 1):
            raise ValidationError({self.page_query_param: ["A page is a whole number from 1."]})
        return page
