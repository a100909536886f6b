"""HTTP controllers, one module per area. ``app.create_app`` lists them in ``ROUTE_HANDLERS``."""
