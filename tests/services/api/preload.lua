-- Config `preload`: runs before every service, with the service's name and arguments.
PRELOADED = table.concat({ ... }, " ")
