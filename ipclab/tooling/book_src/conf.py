"""Sphinx configuration of the course book (``ipclab site``); read by Sphinx, not imported.

The fixed choices live here; what a teacher sets per build (repository, branch, hub,
Binder) is passed by :mod:`ipclab.tooling.book` as overrides of ``html_theme_options``.
The sources are a staged copy of the course (see :mod:`ipclab.tooling.book_sources`).
"""

project = "ipclab"
author = "the ipclab authors"
copyright = "the ipclab authors"
html_title = "ipclab: Linux shared memory and advanced IPC"
language = "en"

extensions = [
    "myst_nb",                       # .ipynb and .md pages (MyST Markdown)
    "ipclab.tooling.book_alt",       # figures' alt text from the notebooks
    "ipclab.tooling.book_lexer",     # IPython cells, %%c cells as C
]

# The notebooks are committed executed: the book shows their stored outputs as they are.
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "show"
nb_render_markdown_format = "commonmark"
myst_heading_anchors = 3             # [..](INSTRUCTOR.md#binder) works as on GitHub
myst_enable_extensions = ["colon_fence"]
suppress_warnings = ["mystnb.unknown_mime_type"]

root_doc = "index"
exclude_patterns = ["_raw/**", "**/.ipynb_checkpoints", "_build"]

html_theme = "sphinx_book_theme"
templates_path = ["_templates"]       # search-button-field.html (accessible name)
html_static_path = ["_static"]
html_css_files = ["ipclab.css"]
html_copy_source = True              # the download button serves _sources/<page>.ipynb
html_sourcelink_suffix = ""
html_show_sphinx = False
html_last_updated_fmt = None
pygments_style = "a11y-high-contrast-light"
pygments_dark_style = "a11y-high-contrast-dark"

html_context = {"default_mode": "auto"}  # light or dark as the reader's system says (unset, the theme logs an error)

html_theme_options = {
    # overridden per build by ipclab.tooling.book (repository_url, repository_branch, launch_buttons)
    "repository_url": "https://github.com/OWNER/ipclab",
    "repository_branch": "main",
    "path_to_docs": "",
    "use_download_button": True,
    "use_repository_button": True,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": False,
    "navigation_with_keys": False,
    "navbar_persistent": [],         # one search button (the sidebar's), not a second one in a header bar
    "launch_buttons": {"notebook_interface": "jupyterlab"},
}
