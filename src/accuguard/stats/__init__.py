"""Pure numerics: metrics, drift, quality, fairness, A/B tests, power, sequential.

Nothing here does I/O or imports from the rest of accuguard (a test enforces it).
"""
