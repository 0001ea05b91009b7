app_name = "scripts_library"
urlpatterns = []
