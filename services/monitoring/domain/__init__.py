"""The monitoring domain: frameworks, submissions and approvals, and the pure computation of results."""
