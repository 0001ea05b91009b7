from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("incidents/", views.incident_list, name="list"),
    path("incidents/new/", views.incident_new, name="new"),
    path("incidents/signed-in-again/", views.signed_in_again, name="signed_in_again"),
    path("incidents/drafts/<uuid:draft_id>/", views.draft_edit, name="draft"),
    path(
        "incidents/drafts/<uuid:draft_id>/autosave/", views.draft_autosave, name="draft_autosave"
    ),
    path("incidents/drafts/<uuid:draft_id>/delete/", views.draft_delete, name="draft_delete"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/filed/", views.incident_filed, name="filed"),
    path("incidents/<int:pk>/addenda/", views.addendum_add, name="addendum_add"),
]
