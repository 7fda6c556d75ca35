"""Solutions to the exercises of notebooks/12_processes_and_shutdown.ipynb (one section per exercise cell).

Each exercise cell is `%%writefile {apps}/NAME.py` followed by an app's code. Here each is spelled as the
call IPython makes of such a cell, `get_ipython().run_cell_magic("writefile", "{apps}/NAME.py", CODE)`, so
that this file stays Python; the code in the string is what goes below the `%%writefile` line.
"""

# %% exercise: end-on-shutdown
get_ipython().run_cell_magic("writefile", "{apps}/ticker.py", '''\
import asyncio
import signal
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.sse import EventSourceResponse, ServerSentEvent

stopping = asyncio.Event()  # set as soon as SIGTERM arrives


@asynccontextmanager
async def lifespan(app: FastAPI):
    loop = asyncio.get_running_loop()
    uvicorns = signal.getsignal(signal.SIGTERM)  # uvicorn's handle_exit, installed before the app started

    def on_sigterm(sig, frame):
        loop.call_soon_threadsafe(stopping.set)  # the streams end...
        if callable(uvicorns):
            uvicorns(sig, frame)  # ...and uvicorn shuts down as it would have

    signal.signal(signal.SIGTERM, on_sigterm)
    yield


app = FastAPI(title="ticker", lifespan=lifespan)


@app.get("/ticks", response_class=EventSourceResponse)
async def ticks():
    """tick 0, tick 1, ... every 0.2 s; on SIGTERM one last event named bye, then the end."""
    n = 0
    while not stopping.is_set():
        yield ServerSentEvent(raw_data=f"tick {n}")
        n += 1
        try:
            await asyncio.wait_for(stopping.wait(), 0.2)  # a tick's pause, cut short by shutdown
        except TimeoutError:
            pass
    yield ServerSentEvent(raw_data="shutting down", event="bye")
''')

# %% exercise: off-the-loop
get_ipython().run_cell_magic("writefile", "{apps}/reports.py", '''\
import asyncio
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI(title="reports")


def slow_report(name: str) -> str:
    time.sleep(1.0)  # a blocking call: don't change it
    return f"report {name}: 42 rows"


@app.websocket("/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


@app.websocket("/report")
async def report(websocket: WebSocket):
    """Each text NAME is answered with slow_report(NAME); the process's other clients never wait for it."""
    await websocket.accept()
    try:
        while True:
            name = await websocket.receive_text()
            await websocket.send_text(await asyncio.to_thread(slow_report, name))  # in a worker thread
    except WebSocketDisconnect:
        pass
''')
