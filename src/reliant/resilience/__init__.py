"""Resilience policies: one module per primitive, composed by pipeline.py."""
