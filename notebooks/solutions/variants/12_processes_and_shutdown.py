"""Variants of the exercises of notebooks/12_processes_and_shutdown.ipynb: wrong ones must get "not yet", valid
ones "passed" (tests/test_exercises.py). Spelled as the solutions are: the call IPython makes of a
`%%writefile` cell."""

# %% wrong: end-on-shutdown: ends on an Event set in the lifespan's shutdown, which comes after the wait (the hang)
get_ipython().run_cell_magic("writefile", "{apps}/ticker.py", '''\
import asyncio
import signal
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.sse import EventSourceResponse, ServerSentEvent

stopping = asyncio.Event()  # set as soon as SIGTERM arrives


@asynccontextmanager
async def lifespan(app: FastAPI):
    yield
    stopping.set()  # shutdown: tell the streams


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

# %% wrong: end-on-shutdown: its own SIGTERM handler replaces uvicorn's: the streams end, the server never stops
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
    signal.signal(signal.SIGTERM, lambda sig, frame: loop.call_soon_threadsafe(stopping.set))
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

# %% wrong: end-on-shutdown: loop.add_signal_handler, which also takes SIGTERM away from uvicorn
get_ipython().run_cell_magic("writefile", "{apps}/ticker.py", '''\
import asyncio
import signal
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.sse import EventSourceResponse, ServerSentEvent

stopping = asyncio.Event()  # set as soon as SIGTERM arrives


@asynccontextmanager
async def lifespan(app: FastAPI):
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
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

# %% wrong: end-on-shutdown: waits for request.is_disconnected(), which only the client's leaving makes true
get_ipython().run_cell_magic("writefile", "{apps}/ticker.py", '''\
import asyncio
import signal
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
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
async def ticks(request: Request):
    """tick 0, tick 1, ... every 0.2 s; on SIGTERM one last event named bye, then the end."""
    n = 0
    while not await request.is_disconnected():
        yield ServerSentEvent(raw_data=f"tick {n}")
        n += 1
        await asyncio.sleep(0.2)
    yield ServerSentEvent(raw_data="shutting down", event="bye")
''')

# %% wrong: end-on-shutdown: ends the stream on SIGTERM without the bye event
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
''')

# %% valid: end-on-shutdown: a threading.Event set in the handler itself, looked at after every tick
get_ipython().run_cell_magic("writefile", "{apps}/ticker.py", '''\
import asyncio
import itertools
import signal
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.sse import EventSourceResponse, ServerSentEvent

stopping = threading.Event()  # thread-safe: a signal handler may set it


@asynccontextmanager
async def lifespan(app: FastAPI):
    previous = signal.getsignal(signal.SIGTERM)

    def handler(sig, frame):
        stopping.set()
        previous(sig, frame)

    signal.signal(signal.SIGTERM, handler)
    yield


app = FastAPI(title="ticker", lifespan=lifespan)


@app.get("/ticks", response_class=EventSourceResponse)
async def ticks():
    for n in itertools.count():
        if stopping.is_set():
            break
        yield ServerSentEvent(raw_data=f"tick {n}")
        await asyncio.sleep(0.2)
    yield ServerSentEvent(event="bye", raw_data="")
''')

# %% wrong: off-the-loop: calls the blocking function in the async endpoint (the frozen loop)
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
            await websocket.send_text(slow_report(name))
    except WebSocketDisconnect:
        pass
''')

# %% wrong: off-the-loop: wraps it in an async function, which runs on the loop all the same
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


async def make_report(name: str) -> str:
    return slow_report(name)


@app.websocket("/report")
async def report(websocket: WebSocket):
    """Each text NAME is answered with slow_report(NAME); the process's other clients never wait for it."""
    await websocket.accept()
    try:
        while True:
            name = await websocket.receive_text()
            await websocket.send_text(await make_report(name))
    except WebSocketDisconnect:
        pass
''')

# %% wrong: off-the-loop: yields to the loop once with asyncio.sleep(0), then blocks it
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
            await asyncio.sleep(0)  # let the others run first
            await websocket.send_text(slow_report(name))
    except WebSocketDisconnect:
        pass
''')

# %% wrong: off-the-loop: run_in_executor(None, slow_report(name)): the call runs on the loop, before the executor
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
            report = await asyncio.get_running_loop().run_in_executor(None, slow_report(name))
            await websocket.send_text(report)
    except WebSocketDisconnect:
        pass
''')

# %% wrong: off-the-loop: answers the first name only, then closes (the sample run, read too literally)
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
    name = await websocket.receive_text()
    await websocket.send_text(await asyncio.to_thread(slow_report, name))
    await websocket.close()
''')

# %% valid: off-the-loop: loop.run_in_executor with the function and its argument
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
            loop = asyncio.get_running_loop()
            await websocket.send_text(await loop.run_in_executor(None, slow_report, name))
    except WebSocketDisconnect:
        pass
''')

# %% valid: off-the-loop: Starlette's run_in_threadpool, and receive/send in a for loop over iter_text()
get_ipython().run_cell_magic("writefile", "{apps}/reports.py", '''\
import asyncio
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

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
    async for name in websocket.iter_text():
        await websocket.send_text(await run_in_threadpool(slow_report, name))
''')
