"""Rollouts: plans (steps and gates), evidence from the event log, gate and policy
evaluation, and the controller that moves a challenger from shadow to champion.

Modules: :mod:`~accuguard.rollout.plan` (the YAML plan), :mod:`~accuguard.rollout.evidence`
(what the event log says about a window), :mod:`~accuguard.rollout.gates` (pass / fail /
inconclusive), :mod:`~accuguard.rollout.policy` (conditions beyond metrics, OPA hook).
"""
