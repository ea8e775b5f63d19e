"""Commands on API clients: register, rotate the secret, revoke; and the check the token endpoint makes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from dudao.events import Envelope
from dudao.store import ServiceApplication
from services.registry.domain.api_client import ApiClient


class ApiClientCommands(ServiceApplication):
    def register_api_client(
        self, *, client_id: UUID, name: str, jurisdiction: str, secret_hash: str, now: datetime, envelope: Envelope
    ) -> ApiClient:
        client = ApiClient.register(
            client_id=client_id, name=name, jurisdiction=jurisdiction, secret_hash=secret_hash, now=now
        )
        return self.save_new(client, envelope)

    def on_api_client(
        self,
        client_id: UUID,
        expected_version: int | None,
        envelope: Envelope,
        command: Callable[[ApiClient], None],
        authorize: Callable[[ApiClient], None],
    ) -> ApiClient:
        """Rotate the secret or revoke."""
        return self.change(client_id, ApiClient, expected_version, envelope, command, authorize)

    def authenticate_api_client(self, client_id: str, secret: str) -> ApiClient | None:
        """The client if `secret` is its current one and it is not revoked; else None, without saying which.

        Read from the event store, not a projection, so a revocation or a new secret counts from the moment it is saved.
        """
        try:
            client = self.repository.get(UUID(client_id))
        except (ValueError, AggregateNotFoundError):
            return None
        return client if isinstance(client, ApiClient) and client.accepts(secret) else None
