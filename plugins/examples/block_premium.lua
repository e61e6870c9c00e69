-- Call barring: no calls to premium-rate numbers, and international calls only for the
-- subscribers allowed to make them. Everything else is left to the next plugin.

local PREMIUM = { "+1900", "+1976", "+4490", "+8260" }
local INTERNATIONAL = { ["1001"] = true, ["+82111234567"] = true }
local HOME = "+82"

local function starts(s, p) return string.sub(s, 1, #p) == p end

function route(req)
  local d = req.dest
  if d.kind ~= "pstn" and d.kind ~= "provider" and d.kind ~= "personal" then
    return pass()
  end
  for _, p in ipairs(PREMIUM) do
    if starts(d.number, p) then return reject(403, "Premium Rate Barred") end
  end
  if not starts(d.number, HOME) and not INTERNATIONAL[req.caller or ""] then
    return reject(403, "International Calls Barred")
  end
  return pass()
end

local carrier = { own_ranges = { "+8211" } }

tests = {
  { name = "premium", plan = carrier, dialed = "+1 900 555 0100", caller = "1001",
    expect = reject(403, "Premium Rate Barred") },
  { name = "international, not allowed", plan = carrier, dialed = "+1 212 555 1234",
    caller = "1002", expect = reject(403, "International Calls Barred") },
  { name = "international, allowed", plan = carrier, dialed = "+1 212 555 1234",
    caller = "1001", expect = pass() },
  { name = "national", plan = carrier, dialed = "02-6200-6200", caller = "1002", expect = pass() },
  { name = "on-net", plan = carrier, dialed = "1003", expect = pass() },
}
