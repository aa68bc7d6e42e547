"""ASGI entry point: websockets through Channels; public vector tiles on the event loop
(server/maps/public_tiles.py, a route of server/platform/loop_routes.py); the rest of HTTP through Django's WSGI handler on a small thread pool
(server/platform/wsgi_bridge.py: one thread hand-over per request)."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
from django.core.wsgi import get_wsgi_application  # noqa: E402

django_wsgi = get_wsgi_application()  # sets Django up before the imports below

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from server.common import log_redaction  # noqa: E402
from server.common.middleware import FORM_OVERHEAD_BYTES, too_large_message  # noqa: E402
from server.maps.public_tiles import public_tile_router  # noqa: E402
from server.platform.wsgi_bridge import WsgiBridge  # noqa: E402
from server.realtime.auth import TokenAuthMiddlewareStack  # noqa: E402
from server.realtime.routing import collect_websocket_urlpatterns  # noqa: E402

# uvicorn configured its loggers before importing us; their handlers redact token-shaped text too
log_redaction.install(["uvicorn", "uvicorn.error", "uvicorn.access", ""])

application = ProtocolTypeRouter({
    "http": public_tile_router(WsgiBridge(django_wsgi, threads=settings.HTTP_THREADS,
                                          max_body=settings.MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES,
                                          spool_bytes=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
                                          too_large=("request_too_large", too_large_message())),
                               pool_size=settings.DB_POOL_MAX),
    "websocket": AllowedHostsOriginValidator(TokenAuthMiddlewareStack(URLRouter(collect_websocket_urlpatterns()))),
})
