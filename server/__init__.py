"""The HTTP process: `create_app(settings)` builds the aiohttp application."""
