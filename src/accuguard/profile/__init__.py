"""Mergeable profiles: sufficient statistics built per chunk and merged with ``+``.

Nothing here does I/O or imports from the rest of accuguard except ``accuguard.stats``
(a test enforces it).
"""
