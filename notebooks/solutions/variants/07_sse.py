# Variants of the exercises of 07_sse.ipynb: wrong solutions learners write (each must get "not yet")
# and valid ones in another style (each must get "passed"). tests/test_exercises.py runs them.

# %% wrong: progress: names the progress events "progress" (they carry no name)
def make_progress_app() -> FastAPI:
    """A FastAPI app with GET /progress/{task_id} as described above."""
    progress_app = FastAPI(title="progress")

    @progress_app.get("/progress/{task_id}", response_class=EventSourceResponse)
    async def progress(task_id: str, interval: float = 0.01):
        for percent in (0, 25, 50, 75, 100):
            yield ServerSentEvent(event="progress", data={"task_id": task_id, "progress": percent})
            await asyncio.sleep(interval)
        yield ServerSentEvent(event="complete", data={"task_id": task_id, "status": "complete"})

    return progress_app

# %% wrong: progress: steps of 10, as rtlab's /sse/progress sends them
def make_progress_app() -> FastAPI:
    """A FastAPI app with GET /progress/{task_id} as described above."""
    progress_app = FastAPI(title="progress")

    @progress_app.get("/progress/{task_id}", response_class=EventSourceResponse)
    async def progress(task_id: str, interval: float = 0.01):
        for percent in range(0, 101, 10):
            yield ServerSentEvent(data={"task_id": task_id, "progress": percent})
            await asyncio.sleep(interval)
        yield ServerSentEvent(event="complete", data={"task_id": task_id, "status": "complete"})

    return progress_app

# %% wrong: progress: the last event has the status but no name
def make_progress_app() -> FastAPI:
    """A FastAPI app with GET /progress/{task_id} as described above."""
    progress_app = FastAPI(title="progress")

    @progress_app.get("/progress/{task_id}", response_class=EventSourceResponse)
    async def progress(task_id: str, interval: float = 0.01):
        for percent in (0, 25, 50, 75, 100):
            yield ServerSentEvent(data={"task_id": task_id, "progress": percent})
            await asyncio.sleep(interval)
        yield ServerSentEvent(data={"task_id": task_id, "status": "complete"})

    return progress_app

# %% wrong: progress: ignores the interval (every event at once)
def make_progress_app() -> FastAPI:
    """A FastAPI app with GET /progress/{task_id} as described above."""
    progress_app = FastAPI(title="progress")

    @progress_app.get("/progress/{task_id}", response_class=EventSourceResponse)
    async def progress(task_id: str, interval: float = 0.01):
        for percent in (0, 25, 50, 75, 100):
            yield ServerSentEvent(data={"task_id": task_id, "progress": percent})
        yield ServerSentEvent(event="complete", data={"task_id": task_id, "status": "complete"})

    return progress_app

# %% wrong: progress: sends the dict's Python repr as raw_data (not JSON)
def make_progress_app() -> FastAPI:
    """A FastAPI app with GET /progress/{task_id} as described above."""
    progress_app = FastAPI(title="progress")

    @progress_app.get("/progress/{task_id}", response_class=EventSourceResponse)
    async def progress(task_id: str, interval: float = 0.01):
        for percent in (0, 25, 50, 75, 100):
            yield ServerSentEvent(raw_data=str({"task_id": task_id, "progress": percent}))
            await asyncio.sleep(interval)
        yield ServerSentEvent(event="complete", raw_data=str({"task_id": task_id, "status": "complete"}))

    return progress_app

# %% valid: progress: JSON written with json.dumps into raw_data, a while loop, no spaces
def make_progress_app() -> FastAPI:
    """A FastAPI app with GET /progress/{task_id} as described above."""
    app = FastAPI(title="progress, by hand")

    @app.get("/progress/{task_id}", response_class=EventSourceResponse)
    async def progress(task_id: str, interval: float = 0.01):
        percent = 0
        while percent <= 100:
            yield ServerSentEvent(raw_data=json.dumps({"progress": percent, "task_id": task_id}, separators=(",", ":")))
            percent += 25
            await asyncio.sleep(interval)
        yield ServerSentEvent(event="complete", raw_data=json.dumps({"status": "complete", "task_id": task_id}))

    return app

# %% wrong: replay: registers the subscriber's queue after the replay (an announcement posted meanwhile is lost)
from collections import deque


def make_replay_app() -> FastAPI:
    """A FastAPI app with POST /announce and GET /announcements as described above."""
    replay_app = FastAPI(title="replay")
    log = deque(maxlen=50)
    queues: set[asyncio.Queue] = set()
    last_id = 0

    @replay_app.post("/announce")
    async def announce(message: str):
        nonlocal last_id
        last_id += 1
        log.append((last_id, message))
        for queue in queues:
            queue.put_nowait((last_id, message))
        return {"id": last_id, "delivered": len(queues)}

    @replay_app.get("/announcements", response_class=EventSourceResponse)
    async def announcements(limit: int = 10, last_event_id: int | None = Header(None, ge=0)):
        sent = 0
        if last_event_id is not None:
            for event_id, message in [(i, m) for i, m in log if i > last_event_id]:
                if sent == limit:
                    return
                yield ServerSentEvent(id=str(event_id), raw_data=message)
                sent += 1
        queue = asyncio.Queue()
        queues.add(queue)  # now: whatever was posted during the replay reached no queue of ours
        try:
            while sent < limit:
                event_id, message = await queue.get()
                yield ServerSentEvent(id=str(event_id), raw_data=message)
                sent += 1
        finally:
            queues.discard(queue)

    return replay_app

# %% wrong: replay: iterates over the live deque while yielding (a POST mid-replay breaks it)
from collections import deque


def make_replay_app() -> FastAPI:
    """A FastAPI app with POST /announce and GET /announcements as described above."""
    replay_app = FastAPI(title="replay")
    log = deque(maxlen=50)
    queues: set[asyncio.Queue] = set()
    last_id = 0

    @replay_app.post("/announce")
    async def announce(message: str):
        nonlocal last_id
        last_id += 1
        log.append((last_id, message))
        for queue in queues:
            queue.put_nowait((last_id, message))
        return {"id": last_id, "delivered": len(queues)}

    @replay_app.get("/announcements", response_class=EventSourceResponse)
    async def announcements(limit: int = 10, last_event_id: int | None = Header(None, ge=0)):
        queue = asyncio.Queue()
        queues.add(queue)
        try:
            seen = last_id if last_event_id is None else last_event_id
            sent = 0
            for event_id, message in log:  # the deque itself, not a copy
                if event_id <= seen:
                    continue
                if sent == limit:
                    return
                yield ServerSentEvent(id=str(event_id), raw_data=message)
                seen, sent = event_id, sent + 1
            while sent < limit:
                event_id, message = await queue.get()
                if event_id > seen:
                    yield ServerSentEvent(id=str(event_id), raw_data=message)
                    seen, sent = event_id, sent + 1
        finally:
            queues.discard(queue)

    return replay_app

# %% wrong: replay: without Last-Event-ID, replays the whole log (last_event_id or 0)
from collections import deque


def make_replay_app() -> FastAPI:
    """A FastAPI app with POST /announce and GET /announcements as described above."""
    replay_app = FastAPI(title="replay")
    log = deque(maxlen=50)
    queues: set[asyncio.Queue] = set()
    last_id = 0

    @replay_app.post("/announce")
    async def announce(message: str):
        nonlocal last_id
        last_id += 1
        log.append((last_id, message))
        for queue in queues:
            queue.put_nowait((last_id, message))
        return {"id": last_id, "delivered": len(queues)}

    @replay_app.get("/announcements", response_class=EventSourceResponse)
    async def announcements(limit: int = 10, last_event_id: int | None = Header(None, ge=0)):
        queue = asyncio.Queue()
        queues.add(queue)
        try:
            seen = last_event_id or 0
            sent = 0
            for event_id, message in [(i, m) for i, m in log if i > seen]:
                if sent == limit:
                    return
                yield ServerSentEvent(id=str(event_id), raw_data=message)
                seen, sent = event_id, sent + 1
            while sent < limit:
                event_id, message = await queue.get()
                if event_id > seen:
                    yield ServerSentEvent(id=str(event_id), raw_data=message)
                    seen, sent = event_id, sent + 1
        finally:
            queues.discard(queue)

    return replay_app

# %% wrong: replay: removes the queue after the loop, not in finally (a client that leaves keeps its queue)
from collections import deque


def make_replay_app() -> FastAPI:
    """A FastAPI app with POST /announce and GET /announcements as described above."""
    replay_app = FastAPI(title="replay")
    log = deque(maxlen=50)
    queues: set[asyncio.Queue] = set()
    last_id = 0

    @replay_app.post("/announce")
    async def announce(message: str):
        nonlocal last_id
        last_id += 1
        log.append((last_id, message))
        for queue in queues:
            queue.put_nowait((last_id, message))
        return {"id": last_id, "delivered": len(queues)}

    @replay_app.get("/announcements", response_class=EventSourceResponse)
    async def announcements(limit: int = 10, last_event_id: int | None = Header(None, ge=0)):
        queue = asyncio.Queue()
        queues.add(queue)
        seen = last_id if last_event_id is None else last_event_id
        sent = 0
        for event_id, message in [(i, m) for i, m in log if i > seen]:
            if sent == limit:
                break
            yield ServerSentEvent(id=str(event_id), raw_data=message)
            seen, sent = event_id, sent + 1
        while sent < limit:
            event_id, message = await queue.get()
            if event_id > seen:
                yield ServerSentEvent(id=str(event_id), raw_data=message)
                seen, sent = event_id, sent + 1
        queues.discard(queue)

    return replay_app

# %% wrong: replay: counts only the live events against limit
from collections import deque


def make_replay_app() -> FastAPI:
    """A FastAPI app with POST /announce and GET /announcements as described above."""
    replay_app = FastAPI(title="replay")
    log = deque(maxlen=50)
    queues: set[asyncio.Queue] = set()
    last_id = 0

    @replay_app.post("/announce")
    async def announce(message: str):
        nonlocal last_id
        last_id += 1
        log.append((last_id, message))
        for queue in queues:
            queue.put_nowait((last_id, message))
        return {"id": last_id, "delivered": len(queues)}

    @replay_app.get("/announcements", response_class=EventSourceResponse)
    async def announcements(limit: int = 10, last_event_id: int | None = Header(None, ge=0)):
        queue = asyncio.Queue()
        queues.add(queue)
        try:
            seen = last_id if last_event_id is None else last_event_id
            for event_id, message in [(i, m) for i, m in log if i > seen]:
                yield ServerSentEvent(id=str(event_id), raw_data=message)
                seen = event_id
            for _ in range(limit):
                event_id, message = await queue.get()
                if event_id > seen:
                    yield ServerSentEvent(id=str(event_id), raw_data=message)
                    seen = event_id
        finally:
            queues.discard(queue)

    return replay_app

# %% valid: replay: state in a small class, replays until caught up with the log, dedupes live events by id
from collections import deque


class Board:
    def __init__(self) -> None:
        self.log: deque = deque(maxlen=50)
        self.queues: list[asyncio.Queue] = []
        self.next_id = 1


def make_replay_app() -> FastAPI:
    """A FastAPI app with POST /announce and GET /announcements as described above."""
    app = FastAPI(title="replay, another way")
    board = Board()

    @app.post("/announce")
    async def announce(message: str):
        event = (board.next_id, message)
        board.next_id += 1
        board.log.append(event)
        for q in board.queues:
            q.put_nowait(event)
        return {"id": event[0], "delivered": len(board.queues)}

    @app.get("/announcements", response_class=EventSourceResponse)
    async def announcements(limit: int = 10, last_event_id: int | None = Header(None, ge=0)):
        q = asyncio.Queue()
        board.queues.append(q)
        try:
            last = board.next_id - 1 if last_event_id is None else last_event_id
            count = 0
            while count < limit:
                missed = [e for e in tuple(board.log) if e[0] > last]  # a copy, taken again each round
                if not missed:
                    break
                for event_id, text in missed[:limit - count]:
                    yield ServerSentEvent(id=str(event_id), raw_data=text)
                    last, count = event_id, count + 1
            while count < limit:
                event_id, text = await q.get()
                if event_id <= last:
                    continue  # replayed already
                yield ServerSentEvent(id=str(event_id), raw_data=text)
                last, count = event_id, count + 1
        finally:
            board.queues.remove(q)

    return app

# %% wrong: replay: one queue for the whole app and a count of subscribers (two subscribers share the events)
from collections import deque


def make_replay_app() -> FastAPI:
    """A FastAPI app with POST /announce and GET /announcements as described above."""
    replay_app = FastAPI(title="replay")
    log = deque(maxlen=50)
    feed: asyncio.Queue = asyncio.Queue()
    listeners = 0
    last_id = 0

    @replay_app.post("/announce")
    async def announce(message: str):
        nonlocal last_id
        last_id += 1
        log.append((last_id, message))
        if listeners:
            feed.put_nowait((last_id, message))
        return {"id": last_id, "delivered": listeners}

    @replay_app.get("/announcements", response_class=EventSourceResponse)
    async def announcements(limit: int = 10, last_event_id: int | None = Header(None, ge=0)):
        nonlocal listeners
        listeners += 1
        try:
            seen = last_id if last_event_id is None else last_event_id
            sent = 0
            for event_id, message in [(i, m) for i, m in log if i > seen]:
                if sent == limit:
                    return
                yield ServerSentEvent(id=str(event_id), raw_data=message)
                seen, sent = event_id, sent + 1
            while sent < limit:
                event_id, message = await feed.get()
                if event_id > seen:
                    yield ServerSentEvent(id=str(event_id), raw_data=message)
                    seen, sent = event_id, sent + 1
        finally:
            listeners -= 1

    return replay_app

# %% wrong: replay: a plain list that keeps every announcement ever posted (no limit of 50)
def make_replay_app() -> FastAPI:
    """A FastAPI app with POST /announce and GET /announcements as described above."""
    replay_app = FastAPI(title="replay")
    log: list[tuple[int, str]] = []
    queues: set[asyncio.Queue] = set()

    @replay_app.post("/announce")
    async def announce(message: str):
        event = (len(log) + 1, message)
        log.append(event)
        for queue in queues:
            queue.put_nowait(event)
        return {"id": event[0], "delivered": len(queues)}

    @replay_app.get("/announcements", response_class=EventSourceResponse)
    async def announcements(limit: int = 10, last_event_id: int | None = Header(None, ge=0)):
        queue = asyncio.Queue()
        queues.add(queue)
        try:
            seen = len(log) if last_event_id is None else last_event_id
            sent = 0
            for event_id, message in log[seen:]:  # ids are positions + 1: a slice does the filter
                if sent == limit:
                    return
                yield ServerSentEvent(id=str(event_id), raw_data=message)
                seen, sent = event_id, sent + 1
            while sent < limit:
                event_id, message = await queue.get()
                if event_id > seen:
                    yield ServerSentEvent(id=str(event_id), raw_data=message)
                    seen, sent = event_id, sent + 1
        finally:
            queues.discard(queue)

    return replay_app

# %% wrong: replay: walks the live deque by index (a POST mid-replay shifts a full deque: one is skipped)
from collections import deque


def make_replay_app() -> FastAPI:
    """A FastAPI app with POST /announce and GET /announcements as described above."""
    replay_app = FastAPI(title="replay")
    log = deque(maxlen=50)
    queues: set[asyncio.Queue] = set()
    last_id = 0

    @replay_app.post("/announce")
    async def announce(message: str):
        nonlocal last_id
        last_id += 1
        log.append((last_id, message))
        for queue in queues:
            queue.put_nowait((last_id, message))
        return {"id": last_id, "delivered": len(queues)}

    @replay_app.get("/announcements", response_class=EventSourceResponse)
    async def announcements(limit: int = 10, last_event_id: int | None = Header(None, ge=0)):
        queue = asyncio.Queue()
        queues.add(queue)
        try:
            seen = last_id if last_event_id is None else last_event_id
            sent, k = 0, 0
            while k < len(log) and sent < limit:  # indexes, not an iterator: no "mutated during iteration"
                event_id, message = log[k]
                k += 1
                if event_id > seen:
                    yield ServerSentEvent(id=str(event_id), raw_data=message)
                    seen, sent = event_id, sent + 1
            while sent < limit:
                event_id, message = await queue.get()
                if event_id > seen:
                    yield ServerSentEvent(id=str(event_id), raw_data=message)
                    seen, sent = event_id, sent + 1
        finally:
            queues.discard(queue)

    return replay_app

# %% valid: replay: the subscriber's queue primed with the replay itself, so one loop sends both
from collections import deque


def make_replay_app() -> FastAPI:
    """A FastAPI app with POST /announce and GET /announcements as described above."""
    replay_app = FastAPI(title="replay")
    state = {"log": deque(maxlen=50), "queues": [], "next": 1}

    @replay_app.post("/announce")
    async def announce(message: str):
        event = (state["next"], message)
        state["next"] += 1
        state["log"].append(event)
        for queue in state["queues"]:
            queue.put_nowait(event)
        return {"id": event[0], "delivered": len(state["queues"])}

    @replay_app.get("/announcements", response_class=EventSourceResponse)
    async def announcements(limit: int = 10, last_event_id: int | None = Header(None, ge=0)):
        queue: asyncio.Queue = asyncio.Queue()
        if last_event_id is not None:
            for event in tuple(state["log"]):
                if event[0] > last_event_id:
                    queue.put_nowait(event)  # replayed events first in the queue, live ones after them
        state["queues"].append(queue)  # no await since the copy: nothing can slip in between
        try:
            for _ in range(limit):
                event_id, message = await queue.get()
                yield ServerSentEvent(id=str(event_id), raw_data=message)
        finally:
            state["queues"].remove(queue)

    return replay_app
