from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("calls", views.CallViewSet, basename="call")
router.register("categories", views.CategoryViewSet, basename="category")
router.register("districts", views.DistrictViewSet, basename="district")
router.register("villages", views.VillageViewSet, basename="village")

urlpatterns = router.urls
