"""Shared documents in one process."""
from __future__ import annotations

from ... import groups
from ...hub import Connection, Outgoing
from ..base import Delivery, DocState
from ..stores import Documents


class MemoryDocuments:
    def __init__(self, delivery: Delivery, documents: Documents) -> None:
        self.delivery, self.documents = delivery, documents

    async def state(self, doc_id: str) -> DocState:
        doc = self.documents[doc_id]
        return DocState(doc.content, doc.version)

    async def edit(self, doc_id: str, conn: Connection, base_version: int | None, edit: dict | list | None,
                   content: str | None) -> None:
        doc = self.documents[doc_id]
        op = doc.apply_edit(base_version, edit, content)
        message = doc.edit_message(op, conn.user, content is not None)
        self.delivery.to_group(groups.document(doc_id), Outgoing(message, key=(doc.version, 0)), exclude=conn.id)
        self.delivery.to_connection(conn.id, Outgoing({"type": "ack", "version": doc.version}))
