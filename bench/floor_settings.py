"""Settings of the benchmark server: the product's settings plus one bench-only URL, the floor.

Only ``python -m bench`` points gunicorn at this module (DJANGO_SETTINGS_MODULE); the product's
settings and URLconf never contain the floor endpoint.
"""

from semarang112.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
