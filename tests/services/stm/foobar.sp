.foobar {
  x 0 : integer
  y 1 : integer
  s 2 : string
}
