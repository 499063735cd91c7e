"""The Celery application (cookiecutter-django's config/celery_app.py layout).

Settings are read from Django settings under the CELERY_ namespace; tasks are found in each
app's tasks.py.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "semarang112.settings")

app = Celery("semarang112")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
