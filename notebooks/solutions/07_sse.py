# Solutions to the exercises of 07_sse.ipynb.
# Each section replaces the exercise cell of the same ID (tests/test_exercises.py runs them).

# %% exercise: progress
def make_progress_app() -> FastAPI:
    """A FastAPI app with GET /progress/{task_id} as described above."""
    progress_app = FastAPI(title="progress")

    @progress_app.get("/progress/{task_id}", response_class=EventSourceResponse)
    async def progress(task_id: str, interval: float = 0.01):
        for percent in (0, 25, 50, 75, 100):
            yield ServerSentEvent(data={"task_id": task_id, "progress": percent})
            await asyncio.sleep(interval)
        yield ServerSentEvent(event="complete", data={"task_id": task_id, "status": "complete"})

    return progress_app

# %% exercise: replay
from collections import deque


def make_replay_app() -> FastAPI:
    """A FastAPI app with POST /announce and GET /announcements as described above."""
    replay_app = FastAPI(title="replay")
    log = deque(maxlen=50)  # (id, message) of the last 50 announcements
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
        queues.add(queue)  # first: whatever is published from now on reaches this queue
        try:
            seen = last_id if last_event_id is None else last_event_id  # no id: live events only
            sent = 0
            for event_id, message in [(i, m) for i, m in log if i > seen]:
                if sent == limit:
                    return
                yield ServerSentEvent(id=str(event_id), raw_data=message)
                seen, sent = event_id, sent + 1
            while sent < limit:
                event_id, message = await queue.get()
                if event_id > seen:  # not already sent by the replay
                    yield ServerSentEvent(id=str(event_id), raw_data=message)
                    seen, sent = event_id, sent + 1
        finally:
            queues.discard(queue)

    return replay_app
