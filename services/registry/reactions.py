"""Registry reactions: none yet. The registry is upstream of every other service."""
