from django.urls import path

from . import views

app_name = "reviews-api"

urlpatterns = [
    path("models/<str:name>/requests/", views.ModelRequests.as_view(), name="model-requests"),
    path("requests/", views.RequestList.as_view(), name="requests"),
    path("requests/<int:number>/", views.RequestDetail.as_view(), name="request"),
    path("requests/<int:number>/reviews/", views.RequestReviews.as_view(), name="request-reviews"),
    path("requests/<int:number>/merge/", views.RequestMerge.as_view(), name="request-merge"),
    path(
        "requests/<int:number>/withdraw/", views.RequestWithdraw.as_view(), name="request-withdraw"
    ),
    path("requests/<int:number>/close/", views.RequestClose.as_view(), name="request-close"),
    path("teams/<slug:slug>/policies/", views.TeamPolicies.as_view(), name="team-policies"),
]
