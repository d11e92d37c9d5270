"""``reliant.yaml``: the models of its kinds, loading and validation, plan (a pure diff)."""
