"""Shared machinery of the SDK: clocks, events, deadlines, the policy protocol."""
