"""The platform's tile router is tested on the maps tests' data: their fixtures, shared."""
from tests.server.maps.conftest import fresh_generation, make_obs  # noqa: F401  (pytest fixtures)
