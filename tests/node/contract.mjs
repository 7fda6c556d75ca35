// Contract checks of rtlab's hub endpoints with Node's `ws` client.
// Usage: node contract.mjs ws://127.0.0.1:PORT  -> prints one JSON object of observations.
import WebSocket from "ws";

const base = process.argv[2];

function open(path) {
  const ws = new WebSocket(base + path);
  const queue = [];
  const waiters = [];
  ws.on("message", (data) => {
    const msg = JSON.parse(data.toString());
    const w = waiters.shift();
    if (w) w(msg); else queue.push(msg);
  });
  ws.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve([code, reason.toString()])));
  ws.next = () => new Promise((resolve) => {
    if (queue.length) resolve(queue.shift()); else waiters.push(resolve);
  });
  ws.until = async (pred) => { for (;;) { const m = await ws.next(); if (pred(m)) return m; } };
  ws.ready = new Promise((resolve, reject) => { ws.on("open", resolve); ws.on("error", reject); });
  return ws;
}

const out = {};
const timer = setTimeout(() => { console.log(JSON.stringify({ timeout: true, ...out })); process.exit(1); }, 20000);

// chat: history, join, message, private with delivery status, typing to the others only
const ann = open("/ws/chat/node?username=ann");
await ann.ready;
out.history = await ann.next();
const bob = open("/ws/chat/node?username=bob");
await bob.ready;
out.joined = await ann.until((m) => m.type === "system" && m.message === "bob joined the room");
await bob.until((m) => m.type === "system");
ann.send(JSON.stringify({ type: "typing" }));
ann.send(JSON.stringify({ type: "message", message: "hi from node" }));
out.bobGotTyping = await bob.next();
out.bobGotMessage = await bob.next();
out.annFirstAfterSend = await ann.next();
ann.send(JSON.stringify({ type: "private", to: "bob", message: "psst" }));
out.delivery = await ann.next();
out.private = await bob.next();
ann.send("not json");
out.error = await ann.next();
bob.close();
out.left = await ann.until((m) => m.type === "system" && m.message.includes("left"));
ann.close();

// pooled: ten simultaneous connects with a limit of 3
const racers = Array.from({ length: 10 }, () => open("/ws/pooled/noderacer"));
const results = await Promise.all(racers.map(async (ws) => {
  const first = await Promise.race([ws.next(), ws.closed.then((c) => ({ closed: c }))]);
  return first;
}));
out.accepted = results.filter((r) => r.type === "connected").length;
out.refused = results.filter((r) => r.closed).map((r) => r.closed);
racers.forEach((ws) => ws.close());

clearTimeout(timer);
console.log(JSON.stringify(out));
process.exit(0);
