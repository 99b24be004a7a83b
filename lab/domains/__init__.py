"""What depends on the kind of data a run learns: one package per kind (images, vectors),
each described to the engine by a `DomainSpec` (protocol.py) listed in registry.py."""
