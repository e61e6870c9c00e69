-- Least-cost routing: PSTN calls go to the carrier that is cheapest for the destination
-- country; the carrier's trunk group fails over to its other gateways by itself. Numbers of
-- countries not listed take the default "pstn" group (the built-in routing).

local BY_COUNTRY = {
  ["+1"] = "carrier-us",
  ["+81"] = "carrier-jp",
  ["+44"] = "carrier-eu",
  ["+33"] = "carrier-eu",
}

function route(req)
  local d = req.dest
  if d.kind ~= "pstn" then return pass() end
  for len = 4, 2, -1 do
    local group = BY_COUNTRY[string.sub(d.number, 1, len)]
    if group then return trunk(group, d.number) end
  end
  return pass()
end

local carrier = { own_ranges = { "+8211" } }

tests = {
  { plan = carrier, dialed = "+1 212 555 1234", expect = trunk("carrier-us", "+12125551234") },
  { plan = carrier, dialed = "+44 20 7946 0958", expect = trunk("carrier-eu", "+442079460958") },
  { plan = carrier, dialed = "+61 2 9374 4000", expect = pass() },
  { plan = carrier, dialed = "011-123-4567", expect = pass() },
}
