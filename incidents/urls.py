from django.urls import path

from incidents import views, views_reports, views_review

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
    path("incidents/evidence/", views_reports.evidence, name="evidence"),
    path("incidents/evidence.pdf", views_reports.evidence_pdf, name="evidence_pdf"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/filed/", views.incident_filed, name="filed"),
    path("incidents/<int:pk>/addenda/", views.addendum_add, name="addendum_add"),
    path("incidents/<int:pk>/review/", views_review.incident_review, name="review"),
    path("review/", views_review.review_queue, name="review_queue"),
    path("alerts/", views_review.alert_list, name="alert_list"),
    path("alerts/thresholds/", views_review.alert_thresholds, name="alert_thresholds"),
    path("alerts/<uuid:public_id>/", views_review.alert_detail, name="alert_detail"),
    path(
        "alerts/<uuid:public_id>/acknowledge/",
        views_review.alert_acknowledge,
        name="alert_acknowledge",
    ),
    path("alerts/<uuid:public_id>/resolve/", views_review.alert_resolve, name="alert_resolve"),
    path(
        "alerts/patients/<uuid:public_id>/",
        views_review.patient_timeline,
        name="patient_timeline",
    ),
    path("reports/", views_reports.report_index, name="reports"),
    path("reports/monthly.pdf", views_reports.report_pdf, name="report_pdf"),
    path("reports/incidents.csv", views_reports.report_csv, name="report_csv"),
]
