"""reliant: the reliability playbook as software for Python services."""
