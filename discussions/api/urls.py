from django.urls import path

from . import views

app_name = "discussions-api"

urlpatterns = [
    path("", views.ThreadList.as_view(), name="threads"),
    path("mentionable/", views.Mentionable.as_view(), name="mentionable"),
    path("<int:thread_id>/", views.ThreadDetail.as_view(), name="thread"),
    path("<int:thread_id>/comments/", views.ThreadComments.as_view(), name="comments"),
    path(
        "<int:thread_id>/comments/<int:comment_id>/",
        views.CommentDetail.as_view(),
        name="comment",
    ),
    path(
        "<int:thread_id>/comments/<int:comment_id>/revisions/",
        views.CommentRevisions.as_view(),
        name="revisions",
    ),
    path("<int:thread_id>/resolve/", views.ThreadResolve.as_view(), name="resolve"),
    path("<int:thread_id>/reopen/", views.ThreadReopen.as_view(), name="reopen"),
]
