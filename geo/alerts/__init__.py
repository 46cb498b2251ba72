"""预警 (alarms): rules (rules.py), evaluation (evaluation.py) and the lifecycle (lifecycle.py).

The rules themselves run in PostgreSQL (migration 0050_alerts.sql) inside the transaction
that writes an incident; this package loads their thresholds, runs what time alone sets
off, and moves alarms through new → acknowledged → handling → closed.
"""
