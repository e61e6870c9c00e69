-- Switchboard's default routing plugin: what the switch does out of the box.
--
--   our subscribers        unconditional forwarding first, else ring their devices with the
--                          busy / no-answer / unreachable forwards as fallbacks (calls only)
--   personal numbers       ours when in our ranges, else the PSTN gateway
--   enterprise numbers     the country branch the numbering plan names (subscriber or trunk)
--   PSTN numbers           the "pstn" trunk group
--   other providers        the trunk group named after the provider, digits in its format
--   directory addresses    routed as the owner's number (the switch resolves them); unknown: 404
--
-- The built-in router does exactly the same; edit a copy of this file (or add another file
-- beside it: plugins are asked in file-name order, the first decision wins) to change it.
-- See plugins/README.md for the API. `switchboard plugin check FILE` runs the tests below.

-- every decision below follows from these fields of the request alone: the switch may reuse a
-- decision for requests that agree on them (a plugin that reads the time or the caller must
-- name them, or leave this out)
route_depends_on = { "method", "dest", "callee" }

-- conditional forwards of the callee, as a delivery's fallbacks
local function fallbacks(f)
  return {
    busy = f.busy,
    no_answer = f.no_answer,
    ring_secs = f.ring_secs,
    unreachable = f.unreachable,
  }
end

local function subscriber(number, req)
  local callee = req.callee
  if req.method ~= "INVITE" or callee == nil then
    return deliver(number)
  end
  local f = callee.forwarding
  if f.always then
    return forward(f.always, "unconditional")
  end
  return deliver(number, fallbacks(f))
end

function route(req)
  local d = req.dest
  if d.kind == "subscriber" then
    return subscriber(d.number, req)
  elseif d.kind == "personal" then
    if req.callee then
      return subscriber(d.number, req)
    end
    return trunk("pstn", d.number)
  elseif d.kind == "enterprise" then
    if d.branch then
      return subscriber(d.branch, req)
    elseif d.trunk then
      return trunk(d.trunk, d["local"])
    end
    return reject(404, "Not Found")
  elseif d.kind == "pstn" then
    return trunk("pstn", d.number)
  elseif d.kind == "provider" then
    return trunk(d.provider, d.dial)
  end
  -- a directory address nobody owns
  return reject(404, "Not Found")
end

-- A carrier's plan: our range +8211, provider "kt" on +8270, a directory and two branches of
-- the enterprise number 6200-6200. Tests that name it hold whatever the switch is configured
-- with; the others use the configured plan.
local carrier = {
  country = "KR",
  own_ranges = { "+8211" },
  providers = { { name = "kt", prefixes = { "+8270" }, national = true } },
  directory = { ["kim@acme.example"] = "011-123-4567" },
  branches = {
    { ["local"] = "6200-6200", country = 82, subscriber = "1001" },
    { ["local"] = "6200-6200", country = 1, trunk = "us-branch" },
  },
}

tests = {
  { name = "an extension", dialed = "1001", expect = deliver("1001") },
  { name = "a name", dialed = "Alice", expect = deliver("alice") },
  {
    name = "unconditional forwarding",
    dialed = "1001",
    callee = { forwarding = { always = "1002" } },
    expect = forward("1002", "unconditional"),
  },
  {
    name = "conditional forwards ride along",
    dialed = "1001",
    callee = { forwarding = { busy = "1002", no_answer = "1003", ring_secs = 15, unreachable = "1004" } },
    expect = deliver("1001", { busy = "1002", no_answer = "1003", ring_secs = 15, unreachable = "1004" }),
  },
  {
    name = "messages are not forwarded",
    method = "MESSAGE",
    dialed = "1001",
    callee = { forwarding = { always = "1002" } },
    expect = deliver("1001"),
  },
  { name = "on-net number", plan = carrier, dialed = "011-123-4567", expect = deliver("+82111234567") },
  { name = "PSTN", plan = carrier, dialed = "+1 (212) 555-1234", expect = trunk("pstn", "+12125551234") },
  { name = "PSTN by 00", plan = carrier, dialed = "001 212 555 1234", expect = trunk("pstn", "+12125551234") },
  { name = "personal number off-net", plan = carrier, dialed = "02-6200-6200-082", expect = trunk("pstn", "+82262006200") },
  { name = "personal number on-net", plan = { country = "KR" }, dialed = "02-6200-6200-082", expect = deliver("+82262006200") },
  { name = "another provider", plan = carrier, dialed = "070-1234-5678", expect = trunk("kt", "07012345678") },
  { name = "enterprise branch: a subscriber", plan = carrier, dialed = "6200-6200#082", expect = deliver("1001") },
  { name = "enterprise branch: a trunk", plan = carrier, dialed = "6200-6200#001", expect = trunk("us-branch", "62006200") },
  { name = "enterprise without a branch", plan = carrier, dialed = "6200-6200#081", expect = reject(404, "Not Found") },
  { name = "directory", plan = carrier, dialed = "kim@acme.example", expect = deliver("+82111234567") },
  { name = "unknown directory address", plan = carrier, dialed = "lee@acme.example", expect = reject(404, "Not Found") },
}
