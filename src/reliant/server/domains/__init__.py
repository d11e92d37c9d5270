"""Control-plane domains: vertical slices that import each other only through facades."""
