"""Reliability as code on the server: export, plan and apply ``reliant.yaml`` documents.

Other domains take part by exposing ``SPEC_HANDLER`` from their facade (see
:class:`SpecHandler`) and adding the facade to ``registry.HANDLER_MODULES``; they import
nothing from here.
"""

from reliant.server.domains.spec.registry import HANDLER_MODULES, RegistryError, SpecHandler

__all__ = ["HANDLER_MODULES", "RegistryError", "SpecHandler"]
