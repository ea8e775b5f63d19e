"""Inspection domain: supervision activities and their lifecycle, double-random draws. Plain Python, no I/O."""
