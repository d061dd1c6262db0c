"""The demo's leaderboard, a Python service in the Lua game: the world reports
every score to it (skynet.send), and anyone may ask for the best (skynet.call).
"""

import skylet


class Leaderboard(skylet.Service):
    async def init(self):
        self.best = {}  # player name -> best score, kept after the player left

    async def record(self, name, score):
        if score > self.best.get(name, 0):
            self.best[name] = score

    async def top(self, count=3):
        ranked = sorted(self.best.items(), key=lambda entry: (-entry[1], entry[0]))
        return [{"name": name, "score": score} for name, score in ranked[:count]]
