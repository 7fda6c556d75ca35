"""An ``nginx`` of your own, on free loopback ports, in front of a server: for notebooks and tests.

``available()`` says whether there is one to start; ``Nginx(...)`` without one raises ``NoNginx``
(a ``RuntimeError``) whose message gives the command that installs it here (``install_hint()``).

nginx runs as a plain child process, never as a system service::

    nginx -p DIR/ -c DIR/nginx.conf -e DIR/error.log      # with `daemon off;` in nginx.conf

where ``DIR`` is a fresh directory holding everything nginx writes: the pid file, the error and
access logs, every ``*_temp_path`` (spooled request and response bodies), the config and, for
TLS, the certificate and key. It is started unprivileged or as root alike; as root nginx's
workers run as ``nobody``, so ``DIR`` is made world-readable (mode 755): in a ``mkdtemp()``
directory (mode 700) a response nginx must spool to disk would be cut short.

**The config.** You write what goes inside nginx's ``http { }`` block (``server`` blocks,
``upstream``, ``map``...): the helper wraps it in a main ``nginx.conf`` of its own (``daemon off;``,
one worker, pid, logs and temp paths inside ``DIR``) that ``include``\\ s it. The text is a
template: nginx configs are full of ``$variables`` and braces, so placeholders are spelled
``@@NAME@@`` (NAME in capitals, digits and ``_``), which no nginx syntax uses. Values come
from keyword arguments; in addition:

* every placeholder named ``PORT`` or ``..._PORT`` that you do not give gets a free port, and
  is taken to be a port nginx listens on: ``start()`` returns once each of them answers;
* ``@@PREFIX@@`` is ``DIR``; with ``tls=True``, ``@@CERT@@`` and ``@@KEY@@`` are the files of a
  certificate for ``127.0.0.1`` and ``localhost`` signed by a fresh `trustme
  <https://trustme.readthedocs.io>`_ CA (``proxy.tls``: trust it in your clients);
* a placeholder without a value is an error (``KeyError`` naming it), before nginx starts.

Example::

    from rtlab import serve
    from rtlab.tools import nginx

    SITE = '''
    server {
        listen 127.0.0.1:@@PORT@@;
        listen 127.0.0.1:@@TLS_PORT@@ ssl http2;     # nginx 1.22's spelling of HTTP/2
        ssl_certificate     @@CERT@@;
        ssl_certificate_key @@KEY@@;
        location / {
            proxy_pass http://@@UPSTREAM@@;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout @@READ_TIMEOUT@@;
        }
    }
    '''
    lab = serve()
    with nginx.Nginx(SITE, tls=True, UPSTREAM=f"127.0.0.1:{lab.port}", READ_TIMEOUT="60s") as proxy:
        proxy.url, proxy.ws_url           # http://127.0.0.1:PORT, ws://...   (PORT)
        proxy.https_url, proxy.wss_url    # https://127.0.0.1:TLS_PORT, wss://...
        proxy.tls.ssl_context()           # an ssl.SSLContext trusting only the proxy's CA
        proxy.tls.ca_file                 # the CA's PEM file, for httpx(verify=...) or curl --cacert
        proxy.tls.chromium_args()         # ['--ignore-certificate-errors-spki-list=...']: pins the cert
        print(proxy.error_log())          # what nginx logged (its last lines: error_log(last=20))
        proxy.reload(READ_TIMEOUT="2s")   # a new config (or new values), checked with `nginx -t` first

``Nginx.from_file(path, **values)`` reads the template from a file (``deploy/rtlab.conf``);
``render(template, values)`` fills a template without starting anything, and
``python -m rtlab.tools.nginx render FILE NAME=VALUE...`` prints it filled.

The process stops with its owner: ``stop()``, the ``with`` block, at interpreter exit
(``atexit``), and on Linux when the process that started it dies (``PR_SET_PDEATHSIG``): a
killed kernel leaves no nginx behind. ``stop()`` is nginx's fast shutdown (SIGTERM: open
connections are cut); ``stop(graceful=True)`` sends SIGQUIT and waits for open requests.
"""
from __future__ import annotations

import atexit
import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .redis import _die_with_parent, free_port

__all__ = ["NoNginx", "Nginx", "TLSFiles", "available", "install_hint", "make_tls", "placeholders", "render"]

PLACEHOLDER = re.compile(r"@@([A-Z][A-Z0-9_]*)@@")


class NoNginx(RuntimeError):
    """No ``nginx`` on PATH (or in /usr/sbin)."""


def install_hint(platform: str | None = None) -> str:
    """One line: nginx is missing, and the command that installs it on this platform."""
    platform = platform or sys.platform
    if platform == "darwin":
        how = "`brew install nginx` (Homebrew)"
    elif platform == "win32":
        how = ("run the lab inside WSL (`wsl --install`, then in Ubuntu `sudo apt-get install nginx`): "
               "nginx for Windows is a beta without the same process model")
    else:
        how = "`sudo apt-get install nginx` (Debian/Ubuntu; elsewhere your distribution's nginx package)"
    return f"nginx is not installed: {how}"


def _binary() -> str | None:
    # Debian puts nginx in /usr/sbin, which is not on an unprivileged user's PATH.
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def available() -> bool:
    """Whether an ``nginx`` binary is there: test it before ``Nginx()``."""
    return _binary() is not None


def placeholders(template: str) -> set[str]:
    """The names of the ``@@NAME@@`` placeholders in a template."""
    return set(PLACEHOLDER.findall(template))


def render(template: str, values: dict[str, Any]) -> str:
    """The template with every ``@@NAME@@`` replaced by ``str(values[NAME])``.

    A placeholder without a value raises ``KeyError`` naming every missing one; values that
    the template does not use are ignored.
    """
    missing = sorted(placeholders(template) - values.keys())
    if missing:
        raise KeyError(f"no value for {', '.join('@@' + m + '@@' for m in missing)}")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def _is_port(name: str) -> bool:
    return name == "PORT" or name.endswith("_PORT")


# -- TLS -------------------------------------------------------------------------------
@dataclass
class TLSFiles:
    """A certificate and key (PEM files) for nginx, and the trustme CA that signed them."""

    ca: Any  # trustme.CA
    cert_file: Path  # the leaf certificate followed by its chain: what ssl_certificate wants
    key_file: Path
    ca_file: Path
    spki_hash: str  # base64 of SHA-256 over the certificate's SubjectPublicKeyInfo (DER)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA and nothing else (hostname checked)."""
        context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_file))
        return context

    def chromium_args(self) -> list[str]:
        """Chromium flags that accept this certificate, and only it, by its public key.

        Chromium cannot be given an extra CA on the command line; it can be told to accept a
        certificate whose SPKI hash is listed (the flag needs a ``--user-data-dir``, which
        Playwright always passes). Every other certificate still fails, unlike Playwright's
        ``ignore_https_errors=True``, which accepts any certificate at all: a test using it would
        pass against the wrong server or a broken chain.
        """
        return [f"--ignore-certificate-errors-spki-list={self.spki_hash}"]


def make_tls(directory: str | os.PathLike, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
             ca: Any = None) -> TLSFiles:
    """A trustme CA (or ``ca``) and a certificate for ``hosts``, written as PEM files in ``directory``."""
    try:
        import trustme
    except ImportError as exc:
        raise RuntimeError("TLS needs trustme: pip install trustme") from exc
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca = ca or trustme.CA()
    leaf = ca.issue_cert(*hosts)
    cert_file, key_file, ca_file = directory / "cert.pem", directory / "key.pem", directory / "ca.pem"
    leaf.private_key_pem.write_to_path(str(key_file))
    # The leaf first, then the chain, in one file: nginx sends the whole file as the chain.
    with open(cert_file, "wb") as out:
        for blob in leaf.cert_chain_pems:
            out.write(blob.bytes())
    ca.cert_pem.write_to_path(str(ca_file))
    cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return TLSFiles(ca=ca, cert_file=cert_file, key_file=key_file, ca_file=ca_file,
                    spki_hash=base64.b64encode(hashlib.sha256(spki).digest()).decode())


# -- the process -----------------------------------------------------------------------
MAIN_CONF = """\
# Written by rtlab.tools.nginx: an nginx run as a child process, everything inside its prefix.
daemon off;
worker_processes @@WORKER_PROCESSES@@;
pid @@PREFIX@@/nginx.pid;
error_log @@PREFIX@@/error.log @@ERROR_LOG_LEVEL@@;

events {
    worker_connections @@WORKER_CONNECTIONS@@;
}

http {
    access_log @@PREFIX@@/access.log;
    client_body_temp_path @@PREFIX@@/temp/client_body;
    proxy_temp_path @@PREFIX@@/temp/proxy;
    fastcgi_temp_path @@PREFIX@@/temp/fastcgi;
    uwsgi_temp_path @@PREFIX@@/temp/uwsgi;
    scgi_temp_path @@PREFIX@@/temp/scgi;

    include @@PREFIX@@/site.conf;
}
"""


class Nginx:
    """nginx with ``site`` (a template of what goes in its ``http { }`` block) on free ports.

    ``tls=True`` makes a trustme CA and a certificate (``@@CERT@@``, ``@@KEY@@``; see ``.tls``);
    ``tls=`` a ``trustme.CA`` signs the certificate with that CA. ``prefix`` is the directory nginx
    works in (default: a new temporary one, removed by ``stop()``). Other keyword arguments
    are the template's values (``UPSTREAM="127.0.0.1:8000"``, ``PORT=8080``...).
    """

    def __init__(self, site: str, *, tls: Any = False, prefix: str | os.PathLike | None = None,
                 worker_processes: int = 1, worker_connections: int = 1024, error_log_level: str = "notice",
                 **values: Any) -> None:
        self.binary = _binary()
        if self.binary is None:
            raise NoNginx(install_hint())
        self.site_template = site
        self._own_prefix = prefix is None
        self.prefix = Path(prefix) if prefix is not None else Path(tempfile.mkdtemp(prefix="rtlab-nginx-"))
        self.prefix.mkdir(parents=True, exist_ok=True)
        self._tls_wanted = tls
        self.tls: TLSFiles | None = None
        self._main_values = {"WORKER_PROCESSES": worker_processes, "WORKER_CONNECTIONS": worker_connections,
                             "ERROR_LOG_LEVEL": error_log_level}
        self.values: dict[str, Any] = dict(values)
        self.proc: subprocess.Popen | None = None
        self._stderr = None

    @classmethod
    def from_file(cls, path: str | os.PathLike, **kwargs: Any) -> "Nginx":
        """The site template read from a file (e.g. ``deploy/rtlab.conf``)."""
        return cls(Path(path).read_text(), **kwargs)

    # -- addresses ---------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The value of ``@@PORT@@`` (the plain HTTP port, by this module's convention)."""
        return int(self.values["PORT"])

    @property
    def tls_port(self) -> int:
        """The value of ``@@TLS_PORT@@`` (the HTTPS port, by this module's convention)."""
        return int(self.values["TLS_PORT"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}"

    @property
    def wss_url(self) -> str:
        return f"wss://127.0.0.1:{self.tls_port}"

    @property
    def listen_ports(self) -> dict[str, int]:
        """Every ``PORT`` / ``..._PORT`` value: the ports nginx listens on."""
        return {k: int(v) for k, v in self.values.items() if _is_port(k)}

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def config(self) -> str:
        """The site config as nginx reads it now (placeholders filled)."""
        return (self.prefix / "site.conf").read_text()

    # -- the config --------------------------------------------------------------------
    def _fill(self, site: str) -> str:
        if self._tls_wanted is not False and self._tls_wanted is not None and self.tls is None:
            ca = None if self._tls_wanted is True else self._tls_wanted
            self.tls = make_tls(self.prefix / "tls", ca=ca)
        elif self.tls is not None and not self.tls.cert_file.exists():  # a failed start removed the prefix
            self.tls = make_tls(self.prefix / "tls", ca=self.tls.ca)  # the same CA, the same paths
        if self.tls is not None:
            self.values.setdefault("CERT", self.tls.cert_file)
            self.values.setdefault("KEY", self.tls.key_file)
        self.values["PREFIX"] = self.prefix
        for name in sorted(placeholders(site)):
            if _is_port(name) and name not in self.values:
                self.values[name] = free_port()
        return render(site, self.values)

    def _write(self, site: str) -> None:
        # nginx makes each *_temp_path in it itself, owned by its workers' user
        (self.prefix / "temp").mkdir(parents=True, exist_ok=True)
        (self.prefix / "nginx.conf").write_text(render(MAIN_CONF, {**self._main_values, "PREFIX": self.prefix}))
        (self.prefix / "site.conf").write_text(site)
        # As root, nginx's workers run as nobody: they must reach the temp paths (and the logs).
        if os.geteuid() == 0:
            for path in [self.prefix, *self.prefix.rglob("*")]:
                if path.is_dir():
                    path.chmod(0o755)

    def _command(self, *extra: str) -> list[str]:
        return [self.binary, "-p", f"{self.prefix}/", "-c", str(self.prefix / "nginx.conf"),
                "-e", str(self.prefix / "error.log"), *extra]

    def check(self) -> None:
        """``nginx -t`` on the config as written: raises ``RuntimeError`` with nginx's words if it is wrong."""
        result = subprocess.run(self._command("-t", "-q"), capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"nginx refused its config: {(result.stderr or result.stdout).strip()}")

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> "Nginx":
        if self.running:
            return self
        try:
            self._write(self._fill(self.site_template))
            self.check()
        except BaseException:  # a missing value or a config nginx refuses: no nginx, no directory left
            if self._own_prefix:
                shutil.rmtree(self.prefix, ignore_errors=True)
            raise
        self._stderr = open(self.prefix / "stderr.log", "ab")
        self.proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=self._stderr,
                                     stderr=self._stderr, preexec_fn=_die_with_parent)
        _started.add(self)  # stopped at exit, if nobody did
        try:
            self._wait_ports(timeout)
        except BaseException:
            self.stop(remove=False)
            raise
        return self

    def _wait_ports(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = dict(self.listen_ports)
        while waiting:
            for name, port in list(waiting.items()):
                if _answers(port):
                    del waiting[name]
            if not waiting:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with status {self.proc.returncode}: {self._last_words()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not answer on {sorted(waiting.values())} within {timeout:g} s: "
                                   f"{self._last_words()}")
            time.sleep(0.01)

    def _last_words(self) -> str:
        lines = [line for line in self.error_log().splitlines() if "[emerg]" in line or "[alert]" in line
                 or "[crit]" in line]
        return lines[-1] if lines else (self.error_log(last=1) or "(nothing in its error log)")

    def worker_pids(self) -> set[int]:
        """The pids of nginx's worker processes now (children of its master; Linux only)."""
        if self.proc is None:
            return set()
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return set()
        return {int(pid) for pid in text.split()}

    def reload(self, site: str | None = None, timeout: float = 10.0, **values: Any) -> None:
        """Load a new site template and/or new values into the running nginx (SIGHUP).

        The new config is checked with ``nginx -t`` first: a wrong one raises ``RuntimeError``
        and the running config stays. Returns once a worker of the new config runs, no worker
        of the old one takes new connections, and every listen port answers. Workers of the old
        config finish their open connections first: a WebSocket open through them stays on the
        old config until it closes (``worker_pids()`` lists them meanwhile).
        """
        if not self.running:
            raise RuntimeError("nginx is not running")
        old_text, old_values, old_template = self.config, dict(self.values), self.site_template
        self.values.update(values)
        if site is not None:
            self.site_template = site
        try:
            self._write(self._fill(self.site_template))
            self.check()
        except BaseException:
            self.values, self.site_template = old_values, old_template
            (self.prefix / "site.conf").write_text(old_text)
            raise
        before = self.worker_pids()
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        # Done when a worker of the new config runs and no worker of the old one still accepts
        # (the master tells old workers to quit after starting new ones: until then, both accept).
        while not (self.worker_pids() - before) or any(_accepting(pid) for pid in before):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not reload: {self._last_words()}")
            time.sleep(0.01)
        self._wait_ports(max(0.1, deadline - time.monotonic()))

    def error_log(self, last: int | None = None) -> str:
        """nginx's error log (its last ``last`` lines), with what it wrote on stderr."""
        text = ""
        for name in ("stderr.log", "error.log"):
            path = self.prefix / name
            if path.exists():
                text += path.read_text(errors="replace")
        lines = text.splitlines()
        return "\n".join(lines[-last:] if last else lines)

    def access_log(self) -> str:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, graceful: bool = False, timeout: float = 10.0, remove: bool = True) -> None:
        """Stop nginx: SIGTERM (fast: open connections are cut) or, graceful, SIGQUIT.

        A temporary prefix of the helper's own is removed (``remove=False`` keeps it, logs and all).
        """
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGQUIT if graceful else signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        _started.discard(self)
        if remove and self._own_prefix:
            shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> "Nginx":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<nginx {'running' if self.running else 'stopped'}>"


def _accepting(pid: int) -> bool:
    """Whether this nginx worker still takes new connections: alive and not "shutting down"."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and b"shutting down" not in title


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


_started: "weakref.WeakSet[Nginx]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_started):
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m rtlab.tools.nginx render FILE NAME=VALUE...``: print the template filled."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rtlab.tools.nginx", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("render", help="fill a template's @@NAME@@ placeholders and print it")
    cmd.add_argument("file")
    cmd.add_argument("values", nargs="*", metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    values = {}
    for item in args.values:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"expected NAME=VALUE, got {item!r}")
        values[name] = value
    try:
        sys.stdout.write(render(Path(args.file).read_text(), values))
    except KeyError as exc:
        print(f"rtlab.tools.nginx: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
