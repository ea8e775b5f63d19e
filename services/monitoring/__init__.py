"""Monitoring (评估监测): indicator frameworks, collection with approval, computed results and roll-ups."""
