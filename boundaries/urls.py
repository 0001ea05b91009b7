from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from boundaries import views
from boundaries.forms import SignInForm

handler500 = "boundaries.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("support/", views.support, name="support"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            authentication_form=SignInForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("incidents.urls")),
    path("scripts/", include("scripts_library.urls")),
]
