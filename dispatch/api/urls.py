from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("agencies", views.AgencyViewSet, basename="agency")
router.register("assignments", views.AssignmentViewSet, basename="assignment")
router.register("units", views.UnitViewSet, basename="unit")
router.register("volunteers", views.VolunteerViewSet, basename="volunteer")

urlpatterns = router.urls
