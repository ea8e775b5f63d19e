"""The `dudao` command, the dev servers it starts and the federation demo: the entry point above the services.

The kernel (`dudao/`) imports no service; this package assembles them into processes (`python -m dudao_cli`)."""
