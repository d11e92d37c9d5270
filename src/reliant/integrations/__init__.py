"""Integrations: reliant at the edges of a service, each imported explicitly.

- :mod:`reliant.integrations.asgi`: ``ReliantMiddleware`` for Starlette, FastAPI and any
  ASGI 3 application (inbound rate limiting, load shedding, request deadlines, health).
- :mod:`reliant.integrations.wsgi`: ``ReliantWSGIMiddleware``, the same for Flask, Django
  and any WSGI application.
- :mod:`reliant.integrations.health`: ``Health``, the ``/livez`` and ``/readyz`` endpoints
  both middlewares mount.
- :mod:`reliant.integrations.httpx`: an httpx transport applying a pipeline to outbound calls.

Importing this package imports none of them (nor any third-party library).
"""
