"""reliant side by side with its peers, in one run, as ratios.

Run ``python -m benchmarks`` (``make bench``) for the full run, ``--quick`` for a smoke
run, ``--markdown`` for the tables as Markdown, ``--json`` for plain data, and
``--only retry,breaker`` to pick sections. See ``docs/benchmarks.md``.
"""
