"""Monitoring read models."""
