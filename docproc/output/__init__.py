"""Output: result rows and the results CSV (results.py), written atomically (atomic.py)."""
