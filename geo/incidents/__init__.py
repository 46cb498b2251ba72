"""The closed loop of an incident: intake, dispatch, lifecycle, supervision, duplicates, media."""
