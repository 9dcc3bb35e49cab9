"""The loop a user would write without bulkfetch, run as its own process so that its CPU
(start-up included) is measured as bulkfetch's is: read a CSV's postcodes, fetch each
one's occupation with aiohttp (``concurrency`` at a time, no limit), decode each answer.
Imports nothing of bulkfetch's.

python -m benchmarks.plain_loop URL FILE [CONCURRENCY]
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys

import aiohttp

PATH = "/customer-api/work-and-travel/occupation/postcode/v1/"


def postcodes(source: str) -> list[str]:
    with open(source, newline="") as handle:
        return [row["postcode"].replace(" ", "").upper() for row in csv.DictReader(handle)]


async def main(url: str, queue: list[str], concurrency: int) -> None:
    queue.reverse()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            while queue:
                params = {"api_key": "bench-key", "area_type": "oa"}
                async with session.get(url + PATH + queue.pop(), params=params) as response:
                    json.loads(await response.read())

        await asyncio.gather(*(worker() for _ in range(concurrency)))


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1], postcodes(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 16)
    )
