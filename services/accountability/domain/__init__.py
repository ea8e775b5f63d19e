"""Accountability domain: rectification cases and, later, notices, interviews, circulars, sanctions. No I/O."""
