-- A snax service that other nodes reach through skynet.cluster: a running
-- total (response.add) and the notes posted to it (accept.note).
local skynet = require "skynet"
local snax = require "skynet.snax"

local total = 0
local notes = {}

function init()
  snax.enablecluster() -- answer "lua" messages too: the cluster delivers those
end

function accept.note(value)
  notes[#notes + 1] = value
end

function response.add(n)
  total = total + n
  return total, skynet.getenv "cluster_self"
end

function response.notes()
  return notes
end
