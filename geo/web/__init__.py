"""Web endpoints beside the Dash pages: tiles, JSON APIs, Open311, printable reports (Flask blueprints)."""
