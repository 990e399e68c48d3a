"""Integrations with the tools around accuguard (Kubernetes controllers, schedulers...)."""
