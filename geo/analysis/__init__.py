"""Spatial and statistical analysis over incidents: the big screen's numbers, drill-down, hotspots, trends, density, rankings."""
