from django.urls import path

from . import views

app_name = "accounts-api"

urlpatterns = [
    path("teams/", views.TeamList.as_view(), name="teams"),
    path("tokens/", views.TokenList.as_view(), name="tokens"),
    path("tokens/<int:token_id>/", views.TokenDetail.as_view(), name="token"),
]
