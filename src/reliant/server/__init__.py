"""The reliant control plane: ``reliant server``, its store, API, jobs and web UI.

The SDK never imports this package (a boundary test pins it); it needs the ``server`` extra
(FastAPI, uvicorn, SQLAlchemy, Alembic, Jinja2).
"""
