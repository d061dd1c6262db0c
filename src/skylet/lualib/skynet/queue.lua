-- skynet.queue: a critical section that serialises functions across the
-- coroutines of one service. `local cs = queue(); cs(f, ...)`.
local skynet = require "skynet"
local coroutine_running = coroutine.running
local table_remove = table.remove

return function()
  local current_thread
  local ref = 0
  local thread_queue = {}

  local function xpcall_ret(ok, ...)
    ref = ref - 1
    if ref == 0 then
      current_thread = table_remove(thread_queue, 1)
      if current_thread then
        skynet.wakeup(current_thread)
      end
    end
    if not ok then
      error((...), 0)
    end
    return ...
  end

  return function(f, ...)
    local thread = coroutine_running()
    if current_thread and current_thread ~= thread then
      thread_queue[#thread_queue + 1] = thread
      skynet.wait()
      assert(ref == 0)
    end
    current_thread = thread
    ref = ref + 1
    return xpcall_ret(xpcall(f, debug.traceback, ...))
  end
end
