from django.urls import path

from . import views

app_name = "reviews"

urlpatterns = [
    path("home/", views.home, name="home"),
    path("requests/", views.request_list, name="requests"),
    path("requests/<int:number>/", views.request_detail, name="request"),
    path("requests/<int:number>/reviews/", views.request_review, name="request_review"),
    path("requests/<int:number>/merge/", views.request_merge, name="request_merge"),
    path("requests/<int:number>/withdraw/", views.request_withdraw, name="request_withdraw"),
    path("requests/<int:number>/close/", views.request_close, name="request_close"),
    path(
        "models/<str:name>/versions/<int:number>/requests/",
        views.request_open,
        name="request_open",
    ),
    path("teams/<slug:slug>/policies/", views.policies_page, name="policies"),
]
