"""Risk tiers (风险分级) and the weekly outputs built on them."""
