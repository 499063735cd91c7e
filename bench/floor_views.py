"""The floor of the intake benchmark: the cheapest write a Django view on this server can do.

One raw ``INSERT`` of the request body into ``bench_floor`` (a table only the bench database has,
created by ``bench.intake``), through the same gunicorn, settings and middleware as the API. The
API's intake is reported as a fraction of this in the same run.
"""

from django.db import connection
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

TABLE = "bench_floor"
CREATE_TABLE = f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, body text NOT NULL)"


@csrf_exempt
@require_POST
def floor(request):
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (created_at, body) VALUES (now(), %s)", [request.body.decode()[:2000]])
    return HttpResponse(status=201)
