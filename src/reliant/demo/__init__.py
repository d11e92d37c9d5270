"""The demo's fleet: real HTTP services and a pager that ``reliant demo`` launches.

Each program runs as a process of its own (``python -m reliant.demo.fleet SERVICE …``,
``python -m reliant.demo.pager …``); see ``docs/demo-fleet.md``. Nothing here is imported
by ``import reliant``.
"""
