"""Feature modules: each exposes ``install(app)`` and adds its actions, tabs and bars to the window.

Listed in ``desktop.app.FEATURES``; a feature that is not built yet is simply absent.
"""
