from django.urls import path

from . import views

app_name = "discussions"

urlpatterns = [
    path("", views.start, name="start"),
    path("<int:thread_id>/reply/", views.reply, name="reply"),
    path("<int:thread_id>/resolve/", views.resolve, name="resolve"),
    path("<int:thread_id>/reopen/", views.reopen, name="reopen"),
    path("<int:thread_id>/comments/<int:comment_id>/edit/", views.edit, name="edit"),
    path("<int:thread_id>/comments/<int:comment_id>/delete/", views.delete, name="delete"),
    path("<int:thread_id>/comments/<int:comment_id>/history/", views.history, name="history"),
]
