"""In-process fault injection: the hook chaos experiments drive."""

from reliant.faults.fault import Fault

__all__ = ["Fault"]
