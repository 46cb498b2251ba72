"""JSON, tiles, Open311 and report endpoints, one Flask blueprint `bp` per module."""
