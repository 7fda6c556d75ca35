# Solutions of notebook 11 (behind a proxy, over TLS): each section is the whole exercise cell, solved.

# %% exercise: pass-the-upgrade
def upgrade_location() -> str:
    """The nginx `location / { ... }` block, proxying to @@APP@@, that passes WebSocket upgrades and keeps
    the client's Host (with its port)."""
    return """
    location / {
        proxy_pass http://@@APP@@;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $http_host;
    }
    """

# %% exercise: trust-only-the-proxy
def behind_the_proxy() -> list[str]:
    """uvicorn's options for proxied:app behind the TLS proxy at 127.0.0.2: its forwarded headers
    believed, nobody else's."""
    return ["--forwarded-allow-ips", "127.0.0.2"]

# %% exercise: outlive-the-timeout
def keepalive_options(proxy_timeout: float) -> list[str]:
    """uvicorn's options for proxied:app, so that an idle browser WebSocket outlives a proxy that closes
    connections on which the app sent nothing for proxy_timeout seconds."""
    return ["--ws-ping-interval", str(proxy_timeout / 2)]
