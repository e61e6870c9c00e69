-- Speed dials: *1 .. *9 reach the numbers an office uses most. A classify hook rewrites what
-- was dialed before the numbering plan reads it; the rewritten string goes through the same
-- closed grammar, so a speed dial can only ever name a number the plan accepts.
--
-- Feature codes the switch handles itself (*72, *73, *90 .. *93, *97) are two digits after
-- the star; these are one digit, so they never collide.

local speed = {
  ["*1"] = "1001",            -- reception
  ["*2"] = "1002",            -- support desk
  ["*9"] = "+82 2 6200 6200", -- head office in Seoul
}

function classify(dialed, req)
  return speed[dialed]        -- nil: keep what was dialed
end

tests = {
  { name = "speed dial", dialed = "*1", rewritten = "1001", expect = pass() },
  { name = "abroad", dialed = "*9", rewritten = "+82 2 6200 6200", expect = pass() },
  { name = "not a speed dial", dialed = "1003", rewritten = "1003", expect = pass() },
}
