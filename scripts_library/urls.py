from django.urls import path

from scripts_library import views

app_name = "scripts_library"

urlpatterns = [
    # Finding words.
    path("", views.index, name="index"),
    path("search/", views.search, name="search"),
    path("situations/<slug:code>/", views.situation, name="situation"),
    path("situations/<slug:code>/card.pdf", views.pocket_card, name="card"),
    path("situations/<slug:code>/suggestions/", views.suggestions, name="suggestions"),
    path("categories/<slug:code>/", views.category, name="category"),
    path("<int:pk>/", views.detail, name="detail"),
    # Looking after the library.
    path("manage/", views.manage, name="manage"),
    path("manage/new/", views.create, name="create"),
    path("manage/<int:pk>/", views.manage_detail, name="manage_detail"),
    path("manage/<int:pk>/edit/", views.edit, name="edit"),
    path("manage/<int:pk>/retire/", views.retire, name="retire"),
    path("manage/versions/<int:pk>/propose/", views.propose, name="propose"),
    path("manage/versions/<int:pk>/approve/", views.approve, name="approve"),
    path("manage/versions/<int:pk>/send-back/", views.send_back, name="send_back"),
]
