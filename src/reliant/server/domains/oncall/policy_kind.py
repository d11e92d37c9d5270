"""The ``EscalationPolicy`` kind's handler, for the apply engine's registry.

The registry takes one ``SPEC_HANDLER`` per module; the facade carries the ``Schedule``
kind's, this module the ``EscalationPolicy`` kind's.
"""

from reliant.server.domains.oncall.spec import EscalationPolicyHandler

#: The ``EscalationPolicy`` kind's handler for the apply engine.
SPEC_HANDLER = EscalationPolicyHandler()
