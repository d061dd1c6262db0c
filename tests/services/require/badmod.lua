local skynet = require "skynet"
skynet.sleep(5)
error("badmod cannot load")
