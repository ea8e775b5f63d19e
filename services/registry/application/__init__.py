"""Registry application: the commands on schools, inspectors, zones, committees, policy profiles, API clients and
townships, and imported lists. One method per command, taking its command object and the caller."""

from services.registry.application.api_clients import ApiClientCommands
from services.registry.application.committees import CommitteeCommands
from services.registry.application.inspectors import InspectorCommands
from services.registry.application.lists import ListCommands
from services.registry.application.policy import PolicyCommands
from services.registry.application.schools import SchoolCommands
from services.registry.application.townships import TownshipCommands
from services.registry.application.zones import ZoneCommands


class Registry(
    SchoolCommands,
    InspectorCommands,
    ZoneCommands,
    CommitteeCommands,
    PolicyCommands,
    ApiClientCommands,
    TownshipCommands,
    ListCommands,
):
    """The registry service's write side (event store in schema `registry`)."""

    service = "registry"


__all__ = ["Registry"]
