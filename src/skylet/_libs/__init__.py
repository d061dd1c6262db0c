"""Host-side halves of Lua libraries, each reached through one core command."""
