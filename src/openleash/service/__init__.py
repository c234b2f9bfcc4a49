"""Use cases. Each talks to the store only through the ports of :mod:`openleash.service.ports`."""
