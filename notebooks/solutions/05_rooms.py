"""Solutions to the exercises of notebooks/05_rooms.ipynb (one section per exercise cell)."""

# %% exercise: room-of-your-own
async def counts_at_last_join(base: str, room: str, users: list[str]) -> list[int]:
    """Join `users` to `room` in order; for each, the users_count announced when the last one joins."""
    members = [await join(base, room, user) for user in users]  # join() URL-encodes "book club"
    announcement = f"{users[-1]} joined the room"  # compared exactly: "anna joined..." starts with "an"
    try:
        counts = []
        for ws in members:
            seen = await read_until(ws, lambda m: m["type"] == "system" and m["message"] == announcement)
            counts.append(seen[-1]["users_count"])
        return counts
    finally:
        for ws in members:
            await ws.close()

# %% exercise: typing-for-the-others
class TypingChat(Chat):
    async def on_message(self, room, ws, username, data):
        """{"type": "typing"} from U: {"type": "typing", "username": U} to the others; the rest as Chat does."""
        if data.get("type") == "typing":
            await self.broadcast(room, {"type": "typing", "username": username}, exclude=ws)
        else:
            await super().on_message(room, ws, username, data)
