print("hello from", ...)
