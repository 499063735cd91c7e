"""The product's URLs plus ``POST /bench/floor/`` (see ``bench.floor_views``)."""

from django.urls import path

from bench.floor_views import floor
from semarang112.urls import handler500  # noqa: F401 - same error pages as the product
from semarang112.urls import urlpatterns as product_urlpatterns

urlpatterns = [path("bench/floor/", floor, name="bench-floor"), *product_urlpatterns]
