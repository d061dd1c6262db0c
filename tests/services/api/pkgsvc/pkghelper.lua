return { greet = function() return "hello from pkghelper" end }
