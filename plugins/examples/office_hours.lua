-- Office hours: the sales line 1100 rings the sales team (1101) on weekdays from 09:00 to
-- 18:00 Seoul time (UTC+9), and forwards to the after-hours desk (1199) otherwise. Every other
-- request is left to the next plugin (pass).

local SALES, TEAM, AFTER_HOURS = "1100", "1101", "1199"
local OFFSET = 9 * 3600           -- Seoul is UTC+9

local function local_clock(t)
  local s = t + OFFSET
  return (s // 3600) % 24, (s // 86400 + 4) % 7 + 1   -- hour, weekday (1 = Sunday)
end

function route(req)
  if req.dest.kind ~= "subscriber" or req.dest.number ~= SALES then
    return pass()
  end
  local hour, weekday = local_clock(req.time)
  local open = weekday >= 2 and weekday <= 6 and hour >= 9 and hour < 18
  if open then
    return deliver(TEAM, { no_answer = AFTER_HOURS, ring_secs = 25 })
  end
  return forward(AFTER_HOURS, "time-of-day")
end

-- 2025-12-01 (a Monday) 01:30 UTC = 10:30 in Seoul; 10:00 UTC = 19:00 in Seoul
local MONDAY_MORNING = 1764552600
local MONDAY_EVENING = 1764583200
local SUNDAY = 1764496800

tests = {
  { name = "open", dialed = "1100", time = MONDAY_MORNING,
    expect = deliver("1101", { no_answer = "1199", ring_secs = 25 }) },
  { name = "closed for the night", dialed = "1100", time = MONDAY_EVENING,
    expect = forward("1199", "time-of-day") },
  { name = "closed on Sunday", dialed = "1100", time = SUNDAY,
    expect = forward("1199", "time-of-day") },
  { name = "other numbers are not ours to route", dialed = "1001", expect = pass() },
}
