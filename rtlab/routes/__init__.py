"""The endpoints, grouped by the notebook that teaches them.

| module | notebooks | endpoints |
|---|---|---|
| ``basic`` | 01–03 | echo, client ids, JSON messages |
| ``auth`` | 02 | tokens and four ways to authenticate a WebSocket |
| ``rooms`` | 04–05 | broadcast, rooms, chat (resumable), private messages, presence |
| ``pooling`` | 06 | per-user connection limits, multi-device sync, online |
| ``notifications`` | 06–08 | notifications over WebSocket and SSE, one service |
| ``sse`` | 07 | Server-Sent Events, announcements |
| ``apps`` | 08 | the chat page, dashboard, collaborative editing, data streams |
| ``naive`` | 04, 06 | the tutorial patterns, kept only to be measured against the fixes |
"""
from . import apps, auth, basic, naive, notifications, pooling, rooms, sse

ROUTERS = [apps.router, basic.router, auth.router, rooms.router, pooling.router, notifications.router, sse.router,
           naive.router]
