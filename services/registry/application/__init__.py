"""Registry application: the commands on schools, inspectors, zones, committees and policy profiles."""

from services.registry.application.committees import CommitteeCommands
from services.registry.application.inspectors import InspectorCommands
from services.registry.application.policy import PolicyCommands
from services.registry.application.schools import SchoolCommands
from services.registry.application.zones import ZoneCommands


class Registry(SchoolCommands, InspectorCommands, ZoneCommands, CommitteeCommands, PolicyCommands):
    """The registry service's write side (event store in schema `registry`)."""

    service = "registry"


__all__ = ["Registry"]
