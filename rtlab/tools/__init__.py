"""Tools for the notebooks, tests and benchmarks: not part of the server.

* :mod:`rtlab.tools.browser` — a headless Chromium through Playwright.
* :mod:`rtlab.tools.redis` — a ``redis-server`` of your own on a free loopback port.
* :mod:`rtlab.tools.nginx` — an ``nginx`` of your own on free loopback ports, its config from an
  ``@@NAME@@`` template (``deploy/rtlab.conf``), TLS from a trustme CA; stopped with its owner.
* :mod:`rtlab.tools.clients` — clients no library will be: one that stalls, one that sends bad frames.
* :mod:`rtlab.tools.checks` — the notebooks' exercise checks.
* :mod:`rtlab.tools.lab` — what ``make lab`` runs: JupyterLab on notebook 00, one line with its URL.
"""

__all__ = ["browser", "checks", "clients", "lab", "nginx", "redis"]  # submodules, imported on demand
