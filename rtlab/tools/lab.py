"""``make lab``: JupyterLab on the series, opened at a notebook, announced in one line.

``python -m rtlab.tools.lab [NOTEBOOK] [--log FILE] [-- JUPYTER_LAB_ARGS...]`` starts JupyterLab on 127.0.0.1 with
the notebook's folder as its root, sends JupyterLab's own log to a file, and prints one line with
the URL that opens the notebook (token included) once the server answers, whether or not a
desktop browser opens it as well. Ctrl+C (or SIGTERM) stops JupyterLab and its kernels.

``python -m rtlab.tools.lab --write-settings`` only writes this lab's JupyterLab defaults (no
"Get notified about Jupyter news?" prompt) into this environment's JupyterLab settings
(``{sys.prefix}/share/jupyter/lab/settings/overrides.d/rtlab.json``): ``make setup`` and Binder's
``postBuild`` run it. They are defaults: what a learner sets in Settings still wins.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

NOTEBOOK = Path("notebooks", "00_start_here.ipynb")

# JupyterLab settings defaults for this lab. "false": never fetch Jupyter news, so never ask.
LAB_DEFAULTS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}


def settings_dir(prefix: str | os.PathLike | None = None) -> Path:
    """JupyterLab's application settings directory of an environment (this one by default)."""
    return Path(prefix or sys.prefix, "share", "jupyter", "lab", "settings")


def write_settings(directory: str | os.PathLike | None = None) -> Path:
    """Write LAB_DEFAULTS as ``overrides.d/rtlab.json`` (a file of its own: a learner's
    ``overrides.json`` is left alone). Returns its path."""
    path = Path(directory or settings_dir(), "overrides.d", "rtlab.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(LAB_DEFAULTS, indent=2) + "\n", encoding="utf-8")
    return path


def notebook_url(server: dict, notebook: str) -> str:
    """The URL that opens `notebook` (relative to the server's root) in JupyterLab, with the token."""
    url = f"{server['url'].rstrip('/')}/lab/tree/{quote(notebook)}"
    return f"{url}?token={server['token']}" if server.get("token") else url


def find_server(pid: int) -> dict | None:
    """The running-server record (as in ``jupyter server list --json``) of the server `pid`."""
    from jupyter_server.serverapp import list_running_servers

    return next((info for info in list_running_servers() if info.get("pid") == pid), None)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM: JupyterLab shuts its kernels down and exits; killed if it takes too long."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


def run(notebook: Path, jupyter_args: list[str], log: Path, timeout: float = 120.0) -> int:
    notebook = notebook.resolve()
    if not notebook.is_file():
        print(f"no such notebook: {notebook}", file=sys.stderr)
        return 2
    root = notebook.parent
    command = [sys.executable, "-m", "jupyterlab", str(notebook), f"--ServerApp.root_dir={root}",
               "--ServerApp.ip=127.0.0.1"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses to run as root unless told it may
    command += jupyter_args
    log.parent.mkdir(parents=True, exist_ok=True)
    for name in ("SIGTERM", "SIGHUP"):  # stop JupyterLab too, not only this process
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _raise_exit)
    with open(log, "w", encoding="utf-8") as out:
        # Its own session: Ctrl+C reaches this process only (JupyterLab would ask for a
        # confirmation on a terminal it no longer writes to), which stops it with SIGTERM.
        session = ({"start_new_session": True} if os.name == "posix"
                   else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP})
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                **session)
    try:
        deadline = time.monotonic() + timeout
        while (server := find_server(proc.pid)) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                print(f"JupyterLab did not start; the end of its log ({log}):\n{_tail(log)}", file=sys.stderr)
                return proc.returncode or 1
            time.sleep(0.2)
        url = notebook_url(server, notebook.relative_to(root).as_posix())
        print(f"JupyterLab: {url}  (Ctrl+C stops it; its log: {log})", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(proc)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    jupyter_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m rtlab.tools.lab", description=__doc__.split("\n\n")[0],
                                     epilog="Arguments after -- go to jupyter lab.")
    parser.add_argument("notebook", nargs="?", type=Path, default=NOTEBOOK, help=f"default: {NOTEBOOK}")
    parser.add_argument("--log", type=Path, default=Path(sys.prefix, "jupyter-lab.log"),
                        help="where JupyterLab's own log goes (default: %(default)s)")
    parser.add_argument("--write-settings", action="store_true",
                        help=f"only write this lab's JupyterLab defaults into {settings_dir()}")
    args = parser.parse_args(argv)
    if args.write_settings:
        write_settings()
        return 0
    return run(args.notebook, jupyter_args, args.log)


if __name__ == "__main__":
    sys.exit(main())
