"""The hall simulator and staffing planner: simulated days through the real engine.

The simulator imports the pure core (`queued.core.Engine`) and drives it on a simulated clock;
the core never imports it. See docs/simulate.md.

- `demand`: the demand file (arrivals, bookings, case times, clerks, [[plan]]) and what-if files
- `scenario`: a hall + demand resolved into engine windows and closing rules
- `arrivals`: the day's citizens from the seed (common random numbers), Erlang C
- `day`: one simulated day (the clerks' policy) through the engine; `run`: several days
- `summary`, `report`, `chart`: figures, text/JSON/CSV, SVG
- `whatif`: two scenarios on the same days; `planner`: the fewest windows per half hour
- `history`: demand from the hall's database; `journaled`: days into a real Journal and back
- `cli`: `queued simulate`; `admin`: the /admin planner page; `worker`: its subprocess
"""
