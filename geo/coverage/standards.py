"""Planning standards in one place: what counts as a gap, an oversized grid, a far household.

Coverage analysis, auto-partition and the planner's UI all judge grids against the same
figures, so they live here once. Defaults follow DOMAIN.md: urban grids of about 300
households and at most 2,500 residents, rural grids of one villager group (its own
standard is stored per grid in grid.household_standard), service centres within 1 km in
town and 3 km in the countryside. Callers override any field by name
(`PlanningConfig.from_mapping({"sliver_width_m": 20})`), e.g. from a settings page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class PlanningConfig:
    household_standard_urban: int = 300
    household_tolerance: float = 0.30  # a grid is off-standard beyond ±30 % of its standard
    persons_limit_urban: int = 2_500
    persons_limit_rural: int | None = None  # a villager group has no persons cap in practice
    sliver_area_m2: float = 2_000.0  # uncovered pieces smaller than this are drawing slivers...
    sliver_width_m: float = 30.0  # ...and so are pieces narrower than this anywhere
    noise_area_m2: float = 1.0  # below this an overlap/gap is coordinate rounding, not a defect...
    noise_width_m: float = 1.0  # ...and so is one thinner than this on average (layers rounded apart)
    service_radius_urban_m: float = 1_000.0
    service_radius_rural_m: float = 3_000.0
    max_items: int = 2_000  # per household list in a report (counts stay exact)

    @classmethod
    def from_mapping(cls, values: dict | None) -> "PlanningConfig":
        """A config with `values` over the defaults; unknown keys are an error, not ignored."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown planning setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)

    def persons_limit(self, kind: str) -> int | None:
        return self.persons_limit_rural if kind == "rural" else self.persons_limit_urban

    def service_radius(self, urban: bool) -> float:
        return self.service_radius_urban_m if urban else self.service_radius_rural_m

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT = PlanningConfig()


def as_config(config) -> PlanningConfig:
    """Accept a PlanningConfig, a dict of overrides or None (the defaults)."""
    if isinstance(config, PlanningConfig):
        return config
    return PlanningConfig.from_mapping(config)
