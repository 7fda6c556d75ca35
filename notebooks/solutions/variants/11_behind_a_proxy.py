# Variants of notebook 11's exercises: wrong ones must get "not yet", valid ones "passed".

# %% wrong: pass-the-upgrade: the first try of the notebook: proxy_pass alone (HTTP/1.0, no Upgrade: 404)
def upgrade_location() -> str:
    return """
    location / {
        proxy_pass http://@@APP@@;
    }
    """

# %% wrong: pass-the-upgrade: HTTP/1.1, but the hop-by-hop headers are not passed on
def upgrade_location() -> str:
    return """
    location / {
        proxy_pass http://@@APP@@;
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
    }
    """

# %% wrong: pass-the-upgrade: Upgrade passed, Connection left to nginx (which sends close)
def upgrade_location() -> str:
    return """
    location / {
        proxy_pass http://@@APP@@;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Host $http_host;
    }
    """

# %% wrong: pass-the-upgrade: the upgrade passes, but Host is $host, which drops the port
def upgrade_location() -> str:
    return """
    location / {
        proxy_pass http://@@APP@@;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $host;
    }
    """

# %% wrong: pass-the-upgrade: the upgrade passes, but Host is nginx's default (the upstream's address)
def upgrade_location() -> str:
    return """
    location / {
        proxy_pass http://@@APP@@;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
    }
    """

# %% valid: pass-the-upgrade: the docs' simple form (Connection "upgrade" always), Host rebuilt from two variables
def upgrade_location() -> str:
    lines = ["proxy_pass http://@@APP@@;", "proxy_http_version 1.1;",
             "proxy_set_header Upgrade $http_upgrade;", 'proxy_set_header Connection "upgrade";',
             "proxy_set_header Host $host:$server_port;"]
    return "location / {\n" + "\n".join("    " + line for line in lines) + "\n}\n"

# %% wrong: trust-only-the-proxy: no options (uvicorn trusts 127.0.0.1 only, not the proxy)
def behind_the_proxy() -> list[str]:
    return []

# %% wrong: trust-only-the-proxy: trusts everybody, so a direct client's forged headers are believed
def behind_the_proxy() -> list[str]:
    return ["--forwarded-allow-ips", "*"]

# %% wrong: trust-only-the-proxy: the proxy added to uvicorn's default (127.0.0.1 is every direct client here)
def behind_the_proxy() -> list[str]:
    return ["--forwarded-allow-ips", "127.0.0.1,127.0.0.2"]

# %% wrong: trust-only-the-proxy: a whole network holding the direct clients too
def behind_the_proxy() -> list[str]:
    return ["--forwarded-allow-ips", "127.0.0.0/8"]

# %% wrong: trust-only-the-proxy: the right address, with the proxy headers turned off
def behind_the_proxy() -> list[str]:
    return ["--no-proxy-headers", "--forwarded-allow-ips", "127.0.0.2"]

# %% valid: trust-only-the-proxy: one token, as a one-address network, with proxy headers named explicitly
def behind_the_proxy() -> list[str]:
    return ["--proxy-headers", "--forwarded-allow-ips=127.0.0.2/32"]

# %% wrong: outlive-the-timeout: uvicorn's defaults (a ping every 20 s, far above the proxy's 2 s)
def keepalive_options(proxy_timeout: float) -> list[str]:
    return []

# %% wrong: outlive-the-timeout: the ping timeout set instead of the interval
def keepalive_options(proxy_timeout: float) -> list[str]:
    return ["--ws-ping-timeout", str(proxy_timeout / 2)]

# %% wrong: outlive-the-timeout: HTTP's keep-alive timeout, which says nothing to a WebSocket
def keepalive_options(proxy_timeout: float) -> list[str]:
    return ["--timeout-keep-alive", str(proxy_timeout / 2)]

# %% valid: outlive-the-timeout: a fixed interval well below any timeout the check uses, in one token
def keepalive_options(proxy_timeout: float) -> list[str]:
    return [f"--ws-ping-interval={min(proxy_timeout / 4, 1.0)}"]
