"""ipywidgets front-ends over the plain functions, one module per topic.

Imported only by notebooks (lazily); nothing else in ipclab depends on ipywidgets, and every
callback here is a plain function a test can call without a browser.
"""
