"""The planner's workbench: draft plans, checks, snapping, auto-partition, 多网合一, publishing."""
