"""What the services promise each other: the events one service records and others consume, as typed classes.

A service never imports another service's code. It follows the other's stream and decodes the events it needs into
the classes of the publishing service's module here (`contracts.registry`, `contracts.inspection`,
`contracts.accountability`): named fields, dates as dates. `tests/unit/test_contracts.py` fails when a contract
asks for a field the publishing aggregate's event does not have."""
