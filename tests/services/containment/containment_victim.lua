-- A module for the attack service to require (the searcher loads it).
return { loaded = true }
