"""Accountability service: the eight-step chain that makes supervision results bite (结果运用与问责)."""
