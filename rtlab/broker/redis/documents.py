"""Shared documents across processes: a hash and a list per document, edited in optimistic transactions."""
from __future__ import annotations

import json

from ... import groups
from ...documents import Document
from ...hub import Connection, Outgoing
from ...ot import OTError
from ..base import DocState
from .link import Link
from .wire import Envelope, Kind, doc_key, doc_ops_key, encode, group_channel, node_channel

DOC_HISTORY = 1000  # operations kept per document, to transform edits made on older versions

# A document's content, version and operations, read in one step: read one by one, another node's
# commit could fall in between, and the edit be refused for an inconsistency that never existed.
_DOC_READ = """
return {redis.call('HGET', KEYS[1], 'content') or '', redis.call('HGET', KEYS[1], 'version') or '0',
        redis.call('LRANGE', KEYS[2], 0, -1)}
"""


class RedisDocuments:
    def __init__(self, link: Link) -> None:
        self.link = link

    async def state(self, doc_id: str) -> DocState:
        try:
            content, version = await self.link.redis.hmget(doc_key(doc_id), "content", "version")
        except Exception as exc:
            raise OTError(f"document service unavailable: {exc}") from None
        return DocState(content or "", int(version or 0))

    async def edit(self, doc_id: str, conn: Connection, base_version: int | None, edit: dict | list | None,
                   content: str | None) -> None:
        """Optimistic transaction: read the document, transform and apply in Python, write back only
        if nobody else wrote meanwhile (WATCH), else retry. The edit for the others and the ack
        for the author are published inside the same transaction, so every node sees edits in
        version order, and the author's ack never overtakes an earlier edit by someone else."""
        from redis.exceptions import WatchError

        state, ops = doc_key(doc_id), doc_ops_key(doc_id)
        group, node = groups.document(doc_id), self.link.node
        async with self.link.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(state, ops)
                    text, version, raw_ops = await pipe.eval(_DOC_READ, 2, state, ops)
                    doc = Document(DOC_HISTORY, text, int(version), [json.loads(o) for o in raw_ops])
                    op = doc.apply_edit(base_version, edit, content)
                    message = Outgoing(doc.edit_message(op, conn.user, content is not None)).text
                    ack = Outgoing({"type": "ack", "version": doc.version}).text
                    pipe.multi()
                    pipe.hset(state, mapping={"content": doc.content, "version": doc.version})
                    pipe.rpush(ops, json.dumps(op))
                    pipe.ltrim(ops, -DOC_HISTORY, -1)
                    pipe.publish(group_channel(group), encode([Envelope(Kind.GROUP, group, message, id=doc.version,
                                                                        node=node, exclude=conn.id)]))
                    pipe.publish(node_channel(node), encode([Envelope(Kind.CONNECTION, str(conn.id), ack)]))
                    await pipe.execute()
                    return
                except WatchError:
                    continue  # someone else committed first: read again and transform over it
                except OTError:
                    raise
                except Exception as exc:  # Redis unreachable: the edit is refused, not half-applied
                    raise OTError(f"document service unavailable, edit not applied: {exc}") from None
