"""The Dash pages, one module each; each registers itself with dash.register_page."""
