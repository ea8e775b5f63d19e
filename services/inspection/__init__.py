"""Inspection service: plans, double-random draws, visits, self-evaluations, findings, reports."""
