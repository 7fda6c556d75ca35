"""The hub's contract, seen by an outside client in another language: Node's `ws`."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "node"

pytestmark = pytest.mark.skipif(shutil.which("node") is None or not (HERE / "node_modules" / "ws").is_dir(),
                                reason="needs node and `npm ci --prefix tests/node` (make test does it)")


def test_chat_and_pool_limit_with_nodes_ws_client(lab):
    out = subprocess.run(["node", str(HERE / "contract.mjs"), lab.ws_url], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    seen = json.loads(out.stdout)
    assert seen["history"] == {"type": "history", "messages": [], "recovered": False}
    assert seen["joined"]["users_count"] == 2
    assert seen["bobGotTyping"] == {"type": "typing", "username": "ann"}
    assert seen["bobGotMessage"]["message"] == "hi from node"
    assert seen["annFirstAfterSend"]["type"] == "message"  # never her own typing event
    assert seen["delivery"] == {"type": "delivery", "sent": True}
    assert (seen["private"]["type"], seen["private"]["from"]) == ("private", "ann")
    assert seen["error"]["type"] == "error"
    assert seen["left"]["users_count"] == 1
    assert seen["accepted"] == 3
    assert seen["refused"] == [[1008, "Max connections reached"]] * 7
